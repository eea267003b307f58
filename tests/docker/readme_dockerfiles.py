#!/usr/bin/env python3
"""Builds and starts every ```dockerfile block of README.md, so the README's Dockerfiles
cannot stop building again (a `COPY a b   # comment` is three sources to Docker).

    readme_dockerfiles.py --engine docker --readme README.md --drinit BIN --busybox BIN \
        --base IMAGE --work DIR --prefix NAME --label KEY=VALUE [--build-flag F]... [--run-flag F]...

A block that starts with FROM (or ARG) is a whole Dockerfile and is built as written. A block
without FROM is a fragment of an image that already has drinit: it is built on --base (an
image with /drinit, /drinitctl, /sigterm.sh and busybox), once per ENTRYPOINT line when it
lists alternatives. Each build context gets the files the block's COPY lines name: the real
drinit and busybox, the example scripts, and a stub for a program such as /myprogram.

Each image is then started with its own ENTRYPOINT and `<ENTRYPOINT[0]> --version` as the
program: drinit must be found where the block puts it (a bare "drinit" on the image's PATH),
accept the block's options, and run its program. Prints one line per block:
`ok NAME` or `fail NAME REASON`; exits 0 (run.sh counts the lines).
"""
import argparse
import json
import os
import re
import shutil
import stat
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def blocks(readme):
    """(first line number, text) of each ```dockerfile block."""
    found, lines, start = [], None, 0
    with open(readme) as f:
        for number, line in enumerate(f, 1):
            if lines is None and line.strip() == "```dockerfile":
                lines, start = [], number + 1
            elif lines is not None and line.strip() == "```":
                found.append((start, "".join(lines)))
                lines = None
            elif lines is not None:
                lines.append(line)
    return found


def instructions(text):
    """(KEYWORD, rest) per instruction line; comments and blank lines left out."""
    out = []
    for line in text.splitlines():
        s = line.strip()
        if s and not s.startswith("#"):
            keyword, _, rest = s.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def variants(text):
    """Whole Dockerfiles, one per alternative ENTRYPOINT of a fragment."""
    keywords = [k for k, _ in instructions(text)]
    if keywords and keywords[0] in ("FROM", "ARG"):
        return [("", text)]
    lines = text.splitlines(keepends=True)
    entrypoints = [i for i, l in enumerate(lines) if l.strip().upper().startswith("ENTRYPOINT")]
    if len(entrypoints) <= 1:
        return [("", "FROM $BASE_IMAGE\n" + text)]
    out = []
    for n, keep in enumerate(entrypoints, 1):
        body = [l for i, l in enumerate(lines) if i == keep or i not in entrypoints]
        out.append((f"-{n}", "FROM $BASE_IMAGE\n" + "".join(body)))
    return out


def copy_sources(dockerfile):
    """The build-context paths that COPY/ADD lines name (not --from= stages)."""
    sources = []
    for keyword, rest in instructions(dockerfile):
        if keyword not in ("COPY", "ADD"):
            continue
        if rest.startswith("["):
            try:
                words = json.loads(rest)
            except ValueError:
                words = rest.split()
        else:
            words = rest.split()
        if any(w.startswith("--from") for w in words):
            continue
        words = [w for w in words if not w.startswith("--")]
        sources.extend(words[:-1])
    return sources


def executable(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode) as f:
        f.write(data)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def prepare_context(ctx, dockerfile, drinit, busybox, version):
    os.makedirs(ctx, exist_ok=True)
    for source in copy_sources(dockerfile):
        name = os.path.basename(source)
        # A glob names a release file: give it the name `make dist` writes.
        target = os.path.join(ctx, source.replace("*", version))
        if os.path.exists(target):
            continue
        if name == "drinit" or re.fullmatch(r"drinit-.*-(x86_64|aarch64)", name.replace("*", version)):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy(drinit, target)
        elif name == "busybox":
            shutil.copy(busybox, target)
        elif os.path.exists(os.path.join(ROOT, "examples", "trap-hook", name)):
            shutil.copy(os.path.join(ROOT, "examples", "trap-hook", name), target)
        else:
            # A program of the reader's own (/myprogram, /server): any file builds.
            executable(target, "#!/bin/sh\n# stub for the README's Dockerfile check\nexec sleep 100000\n")


def run(cmd, timeout=120):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired:
        return -1, f"timed out after {timeout} s"


def remove_stage_images(engine, build_output):
    """Docker's legacy builder keeps the image of each earlier stage of a multi-stage build
    as a dangling image: remove those this build made (not cached ones, which may be another
    build's). `rmi` without -f leaves an image that another one still needs."""
    made, cached = [], False
    for line in build_output.splitlines():
        m = re.fullmatch(r" ---> ([0-9a-f]{12})", line.rstrip())
        if m and not cached:
            made.append(m.group(1))
        cached = line.strip() == "---> Using cache"
    for image in made:
        if run(engine + ["inspect", "-f", "{{len .RepoTags}}", image])[1].strip() == "0":
            run(engine + ["rmi", image])


def short(text):
    return " | ".join(l.strip() for l in text.strip().splitlines()[-3:])[:400]


def main():
    ap = argparse.ArgumentParser()
    for name in ("engine", "readme", "drinit", "busybox", "base", "work", "prefix", "label"):
        ap.add_argument("--" + name, required=True)
    ap.add_argument("--run-flag", action="append", default=[])
    ap.add_argument("--build-flag", action="append", default=[])
    a = ap.parse_args()
    engine = a.engine.split()
    with open(os.path.join(ROOT, "Cargo.toml")) as f:
        version = re.search(r'^version = "(.*)"', f.read(), re.M).group(1)
    found = blocks(a.readme)
    if not found:
        print("fail readme-dockerfiles no ```dockerfile block found in", a.readme)
        return 0
    for line, text in found:
        for suffix, dockerfile in variants(text):
            name = f"readme-line{line}{suffix}"
            ctx = os.path.join(a.work, name)
            prepare_context(ctx, dockerfile, a.drinit, a.busybox, version)
            dockerfile = dockerfile.replace("$BASE_IMAGE", a.base)
            with open(os.path.join(ctx, "Dockerfile"), "w") as f:
                f.write(dockerfile)
            image = f"{a.prefix}-{name}"
            build = engine + ["build", "--network", "none", "--label", a.label, "-t", image] + a.build_flag
            declared = {rest.split("=")[0] for k, rest in instructions(dockerfile) if k == "ARG"}
            # No registry here: a block's own base image is replaced by --base.
            for arg, value in (("TARGETARCH", "amd64"), ("BASE", a.base)):
                if arg in declared:
                    build += ["--build-arg", f"{arg}={value}"]
            code, out = run(build + [ctx])
            remove_stage_images(engine, out)
            if code != 0:
                print(f"fail {name} build failed: {short(out)}")
                continue
            code, out = run(engine + ["inspect", "-f", "{{json .Config.Entrypoint}}", image])
            try:
                entrypoint = json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                entrypoint = None
            if not entrypoint or "drinit" not in os.path.basename(entrypoint[0]):
                print(f"fail {name} ENTRYPOINT is {out.strip()!r}, not drinit in exec form")
                continue
            code, out = run(engine + ["run", "--rm", "--network", "none", "--label", a.label] + a.run_flag + [image, entrypoint[0], "--version"], 60)
            if code != 0 or "drinit version" not in out:
                print(f"fail {name} `run {' '.join(entrypoint)} {entrypoint[0]} --version` exited {code}: {short(out)}")
                continue
            print(f"ok {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
