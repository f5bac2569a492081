#!/usr/bin/env python3
"""Fails when a source file includes a header its layer may not use.

Every quoted #include must name a file by its path from the repository root (the one
include root), or an SDK public header by its installed name ("modelgate/..."). Each folder
below may include only the folders listed for it; the order is the one docs/architecture.md
draws. System headers (<...>) are not checked.

usage: scripts/check_layers.py [REPO_ROOT]
"""
import pathlib
import re
import sys

# folder -> the folders (or header paths) it may include, besides its own. "modelgate/"
# stands for the SDK's public headers (sdk/include/modelgate/).
ALLOWED = {
    "sdk/include/modelgate": [],
    "sdk/client": ["modelgate/", "proto/"],
    "sdk/examples": ["modelgate/plugin.h"],
    "common": [],
    "registry": ["common/", "modelgate/hex.h"],
    "gateway/plugin_host": ["common/", "modelgate/plugin.h"],
    # modelgate-worker: a plugin's model in its own process, with the plugin host only.
    "gateway/worker": ["gateway/plugin_host/", "common/", "modelgate/plugin.h"],
    "gateway/metrics": ["common/"],
    "gateway/http": ["common/"],
    "gateway/auth": ["gateway/http/", "registry/", "common/", "modelgate/hex.h",
                     "modelgate/signing.h"],
    "gateway/limits": ["registry/", "common/", "modelgate/hex.h"],
    # Raw inputs (images) into model tensors.
    "gateway/preprocess": ["gateway/plugin_host/", "common/"],
    "gateway/serving": ["gateway/plugin_host/", "gateway/preprocess/", "gateway/metrics/",
                        "registry/", "common/"],
    # Evaluation datasets read and scored, the promotion gate: computation only.
    "gateway/evaluation": ["common/"],
    "gateway/api": ["gateway/auth/", "gateway/evaluation/", "gateway/limits/", "gateway/serving/", "gateway/metrics/",
                    "gateway/http/", "gateway/plugin_host/", "gateway/preprocess/", "registry/",
                    "common/"],
    # The gRPC listener sees HTTP requests and responses only: the router is handed in.
    "gateway/grpc": ["gateway/http/", "gateway/plugin_host/", "registry/", "common/", "proto/"],
    "gateway/main": ["gateway/", "registry/", "common/", "modelgate/hex.h"],
    # A plugin sees the C ABI and nothing of the server (plugins/README.md).
    "plugins/cpu": ["modelgate/plugin.h"],
    "admin": ["modelgate/", "registry/artifact_signature.h", "registry/sha256.h", "proto/"],
    # The KServe v2 gRPC messages (generated) and helpers over them.
    "proto": [],
    # Tools, tests and benchmarks sit above everything.
    "tools": [""],
    "tests": [""],
    "bench": [""],
}
SOURCE = re.compile(r"\.(c|cc|cpp|h|hpp)$")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def layer_of(path: str):
    best = None
    for folder in ALLOWED:
        if path.startswith(folder + "/") and (best is None or len(folder) > len(best)):
            best = folder
    return best


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    problems = []
    checked = 0
    for file in sorted(root.rglob("*")):
        rel = file.relative_to(root).as_posix()
        if not SOURCE.search(rel) or rel.startswith((".", "build")) or "/build" in rel:
            continue
        if "node_modules" in rel or rel.startswith("bench/.ort"):
            continue
        layer = layer_of(rel)
        if layer is None:
            problems.append(f"{rel}: in no layer (add its folder to scripts/check_layers.py)")
            continue
        checked += 1
        for target in INCLUDE.findall(file.read_text(errors="replace")):
            if target.startswith("modelgate/"):
                exists = (root / "sdk/include" / target).is_file()
            else:
                exists = (root / target).is_file()
            if not exists:
                problems.append(f"{rel}: #include \"{target}\" is not a path from the "
                                "repository root")
                continue
            own = target.startswith(layer + "/") or (
                layer == "sdk/include/modelgate" and target.startswith("modelgate/"))
            if own or any(target.startswith(allowed) for allowed in ALLOWED[layer]):
                continue
            problems.append(f"{rel}: layer {layer} may not include \"{target}\"")
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"check_layers: {checked} files, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
