# drinit — build, test and measure. `make demo` and `make test` are the README's two commands.
TARGET      ?= x86_64-unknown-linux-musl
RELEASE     := target/$(TARGET)/release
BIN         := $(RELEASE)/drinit
SIZE_BUDGET := 56000

.PHONY: build test demo size bench soak e2e e2e-docker e2e-podman dist aarch64 tools have-file clean find-panics

build: tools
	cargo build --release --target $(TARGET)
	ln -sf drinit $(RELEASE)/drinitctl

# The tools a fresh Debian/Ubuntu machine with rustup needs; adds the musl target itself.
tools:
	@command -v cargo >/dev/null 2>&1 || { echo "make: cargo not found: install Rust with rustup first"; exit 1; }
	@command -v rustup >/dev/null 2>&1 || { echo "make: rustup not found: the musl target is added with rustup"; exit 1; }
	@rustup target list --installed | grep -qx '$(TARGET)' || rustup target add $(TARGET)
	@command -v unshare >/dev/null 2>&1 || { echo "make: unshare not found: apt-get install util-linux"; exit 1; }
	@command -v nsenter >/dev/null 2>&1 || { echo "make: nsenter not found: apt-get install util-linux"; exit 1; }

# `make size` checks with file(1) that the binary is static: name the tool when it is
# missing, before anything is built (else the check would report "not static").
have-file:
	@command -v file >/dev/null 2>&1 || { echo "make: file not found: apt-get install file (make size uses it to check that drinit is static)"; exit 1; }

# Unit tests, then the integration tests against the release binary that ships, then the size budget.
test: have-file build
	DRINIT_BIN=$(abspath $(BIN)) cargo test --target $(TARGET)
	@$(MAKE) --no-print-directory size

demo: build
	@sh demo/demo.sh $(abspath $(RELEASE))

size: have-file build
	@size=$$(stat -c %s $(BIN)); \
	echo "size: $(BIN) is $$size bytes (budget $(SIZE_BUDGET))"; \
	file $(BIN) | grep -q 'statically linked' || { echo "size: $(BIN) is not static"; exit 1; }; \
	[ $$size -le $(SIZE_BUDGET) ] || { echo "size: over budget by $$((size - $(SIZE_BUDGET))) bytes"; exit 1; }

# Lists the functions that still call into a panic (a release build with one does not link).
find-panics: tools
	RUSTFLAGS="--cfg drinit_find_panics" CARGO_PROFILE_RELEASE_STRIP=false \
	  cargo build --release --target $(TARGET) --target-dir target/find-panics
	objdump -d --no-show-raw-insn target/find-panics/$(TARGET)/release/drinit \
	  | awk '/^[0-9a-f]+ <.*>:$$/ {fn=$$2} /call.*(panic|unwrap_failed|_fail|assert)/ && fn !~ /core/ {print fn, "->", $$NF}' | sort -u

# Timings against tini, dumb-init and catatonit (Debian packages), in one interleaved run.
bench: build
	python3 bench/bench.py --drinit $(abspath $(BIN))

# Ten minutes of a program crashing every second under --restart always, a probe and a
# status loop: drinit's RSS, fds and CPU per restart per minute (not in CI).
soak: build
	python3 bench/soak.py --drinit $(abspath $(BIN))

# Real engines end to end: Docker (needs a running dockerd; .ci/docker.sh starts one), then
# podman (.ci/podman.sh installs it). What cannot run on the machine is reported as SKIP.
e2e: e2e-docker e2e-podman

e2e-docker: build
	bash tests/docker/run.sh $(abspath $(RELEASE))

e2e-podman: build
	bash tests/podman/run.sh $(abspath $(RELEASE))

# Cross-build for aarch64 (rust-lld) and test it under qemu-aarch64-static.
aarch64:
	bash scripts/aarch64.sh

# Static, stripped release binaries for both architectures with SHA256SUMS.
dist:
	bash scripts/dist.sh

clean:
	cargo clean
	rm -rf dist
