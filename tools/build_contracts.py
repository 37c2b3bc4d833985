"""Compile every contract under contracts/ with the pinned solc-js, per brownie-config.yaml.

Writes build/contracts/<Name>.json with abi, bytecode and deployedBytecode (plus the
storage layout and method identifiers, which the tests and the gas benchmark read).
Drives tools/solc (solc-js behind native solc's command line) through py-solc-x's
standard-JSON interface, since no native compiler can be downloaded here.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import solcx
import yaml

ROOT = Path(__file__).resolve().parents[1]
SOLC = ROOT / "tools" / "solc"


def compiler_settings(config_path: Path = ROOT / "brownie-config.yaml") -> dict:
    """Read the compiler section of brownie-config.yaml into standard-JSON settings."""
    solc = yaml.safe_load(config_path.read_text())["compiler"]["solc"]
    return {
        "optimizer": {"enabled": bool(solc["optimizer"]["enabled"]), "runs": int(solc["optimizer"]["runs"])},
        "evmVersion": solc["evm_version"],
        "viaIR": bool(solc.get("via_ir", False)),
        "remappings": list(solc.get("remappings", [])),
        "outputSelection": {
            "*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object",
                          "evm.deployedBytecode.immutableReferences", "evm.methodIdentifiers", "storageLayout"]}
        },
    }


def build(out_dir: Path = ROOT / "build" / "contracts") -> list[str]:
    """Compile contracts/**.sol and write one artifact per contract; return the names written."""
    sources = {str(p.relative_to(ROOT)): {"urls": [str(p.relative_to(ROOT))]} for p in sorted((ROOT / "contracts").rglob("*.sol"))}
    if not sources:
        raise SystemExit("no .sol files under contracts/")
    standard_input = {"language": "Solidity", "sources": sources, "settings": compiler_settings()}
    try:
        output = solcx.compile_standard(standard_input, solc_binary=SOLC, base_path=str(ROOT), allow_paths=[str(ROOT)])
    except solcx.exceptions.SolcError as err:
        try:
            messages = [e["formattedMessage"] for e in json.loads(err.stdout_data)["errors"] if e["severity"] == "error"]
        except (ValueError, KeyError, TypeError):
            messages = [str(err)]
        raise SystemExit("contract compilation failed:\n" + "\n".join(messages)) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for source, contracts in output["contracts"].items():
        if not source.startswith("contracts/"):
            continue
        for name, art in contracts.items():
            artifact = {
                "contractName": name,
                "sourcePath": source,
                "abi": art["abi"],
                "bytecode": "0x" + art["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + art["evm"]["deployedBytecode"]["object"],
                # where the runtime code holds constructor-set immutables: a wallet masks them to
                # compare a deployment's code with this build (client.chain.exchange_code)
                "immutableReferences": art["evm"]["deployedBytecode"].get("immutableReferences", {}),
                "methodIdentifiers": art["evm"].get("methodIdentifiers", {}),
                "storageLayout": art.get("storageLayout", {}),
                "compiler": {k: v for k, v in standard_input["settings"].items() if k != "outputSelection"},
            }
            (out_dir / f"{name}.json").write_text(json.dumps(artifact, indent=1))
            written.append(name)
    for warning in output.get("errors", []):
        if warning["severity"] != "error" and warning.get("sourceLocation", {}).get("file", "").startswith("contracts/"):
            print(warning["formattedMessage"], file=sys.stderr)
    return written


if __name__ == "__main__":
    names = build()
    print(f"compiled {len(names)} contracts into build/contracts: {', '.join(sorted(names))}")
