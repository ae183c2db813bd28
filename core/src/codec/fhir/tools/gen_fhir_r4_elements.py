#!/usr/bin/env python3
"""Generate fhir_r4_elements.inc, the FHIR R4 element table the codec runs on.

Input: the two StructureDefinition bundles of the FHIR R4 (4.0.1) definitions,
`profiles-types.json` and `profiles-resources.json`, as published in
https://hl7.org/fhir/R4/definitions.json.zip (https://hl7.org/fhir/R4/downloads.html).
Their version.info must read `FhirVersion=4.0.1-9346c8cc45` (the official
R4 technical correction build); any StructureDefinition of another fhirVersion
is ignored.

Output (stdout, or the path given with -o): one C++ raw string literal per
structure, meant to be #included inside a `std::string_view` array. Each block:

    <Name> <kind>                  kind: resource | datatype | backbone | abstract
      <element> <max> <types> [xmlAttr]

- <element> is the last segment of the element path; choice elements keep
  their `[x]` suffix (https://hl7.org/fhir/R4/formats.html#choice).
- <max> is `1` or `*` (any max other than 0 and 1 is written `*`: the element
  repeats, so JSON carries it as an array, https://hl7.org/fhir/R4/json.html#arrays).
- <types> is `|`-separated: a primitive type name, a complex datatype name,
  `Resource` or a resource name (a resource wrapped in an element named by its
  type, https://hl7.org/fhir/R4/xml.html#resource), `xhtml` (Narrative.div), or a
  dotted structure path: an inline backbone element (`Patient.contact`) or the
  target of a contentReference (`Questionnaire.item` for Questionnaire.item.item).
- `xmlAttr` marks elements that XML carries as attributes (Element.id,
  Extension.url; ElementDefinition.representation = xmlAttr).
The one `abstract` block is DomainResource, the elements all resource types
share. Elements appear in definition order, which is the XML element order
(https://hl7.org/fhir/R4/xml.html#ordering); inherited elements (id, meta,
extension, ...) are included, as in the snapshots.

A first `primitives` block maps each primitive type to its JSON form
(boolean | number | string, https://hl7.org/fhir/R4/json.html#primitive).

Usage:
  gen_fhir_r4_elements.py DEFINITIONS_DIR -o core/src/codec/fhir/fhir_r4_elements.inc
"""
import argparse
import json
import os
import sys

FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
SYSTEM_PREFIX = "http://hl7.org/fhirpath/System."
# A raw string literal per block must stay under the 65,536 characters that
# ISO C++ compilers must support (-Woverlength-strings under -Wpedantic).
MAX_BLOCK = 60000


def load_definitions(folder):
    sds = []
    for name in ("profiles-types.json", "profiles-resources.json"):
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            bundle = json.load(f)
        for entry in bundle["entry"]:
            res = entry["resource"]
            if res.get("resourceType") != "StructureDefinition":
                continue
            if res.get("fhirVersion") != "4.0.1":
                continue
            sds.append(res)
    return sds


def type_code(t):
    code = t["code"]
    if code.startswith(SYSTEM_PREFIX):
        for ext in t.get("extension", []):
            if ext.get("url") == FHIR_TYPE_EXT:
                return ext.get("valueUrl") or ext.get("valueUri")
        return "string"
    return code


# https://hl7.org/fhir/R4/json.html#primitive: "integer, unsignedInt,
# positiveInt and decimal are represented as a JSON number, boolean as JSON
# true or false, and all other types as a JSON string". Taken from that table,
# not from the value elements: in 4.0.1 positiveInt.value and unsignedInt.value
# are typed System.String.
JSON_NUMBER_TYPES = {"integer", "unsignedInt", "positiveInt", "decimal"}


def json_kind_of_primitive(sd):
    if sd["type"] == "boolean":
        return "boolean"
    if sd["type"] in JSON_NUMBER_TYPES:
        return "number"
    return "string"


def structure_blocks(sd, kind, resource_names):
    """Yield (name, kind, lines) for the structure and each backbone inside it."""
    elements = [e for e in sd["snapshot"]["element"] if e.get("max") != "0"]
    root = sd["type"]
    # Paths that have children of their own are inline structures.
    parents = {e["path"].rsplit(".", 1)[0] for e in elements if "." in e["path"]}
    blocks = {root: (kind, [])}
    order = [root]
    for el in elements:
        path = el["path"]
        if path == root:
            continue
        parent, name = path.rsplit(".", 1)
        if parent not in blocks:
            raise SystemExit(f"{sd['id']}: {path} appears before its parent")
        if "contentReference" in el:
            types = [el["contentReference"].lstrip("#")]
        elif path in parents:
            types = [path]
            blocks[path] = ("backbone", [])
            order.append(path)
        else:
            types = []
            for t in el.get("type", []):
                code = type_code(t)
                if code in ("Resource", "DomainResource"):
                    code = "Resource"
                if code not in types:
                    types.append(code)
        if not types:
            raise SystemExit(f"{sd['id']}: {path} has no type")
        many = "1" if el.get("max") == "1" else "*"
        line = f"  {name} {many} {'|'.join(types)}"
        if "xmlAttr" in el.get("representation", []):
            line += " xmlAttr"
        blocks[parent][1].append(line)
    for name in order:
        yield name, blocks[name][0], blocks[name][1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("definitions", help="folder holding profiles-types.json and profiles-resources.json")
    ap.add_argument("-o", "--output", help="output .inc path (default: stdout)")
    args = ap.parse_args()

    sds = load_definitions(args.definitions)
    primitives = sorted((s for s in sds if s["kind"] == "primitive-type"), key=lambda s: s["type"])
    datatypes = sorted((s for s in sds if s["kind"] == "complex-type" and not s.get("abstract")
                        and s.get("derivation") == "specialization"), key=lambda s: s["type"])
    resources = sorted((s for s in sds if s["kind"] == "resource" and not s.get("abstract")
                        and s.get("derivation") == "specialization"), key=lambda s: s["type"])
    resource_names = {s["type"] for s in resources}
    # DomainResource (abstract) gives the codec the elements every resource
    # type shares (id, meta, text, contained, extension, ...), for resource
    # types R4 does not define.
    bases = [s for s in sds if s["kind"] == "resource" and s["type"] == "DomainResource"]

    out = []
    out.append("// GENERATED by core/src/codec/fhir/tools/gen_fhir_r4_elements.py - do not edit by hand.\n")
    out.append("// Source: FHIR R4 4.0.1 definitions (profiles-types.json, profiles-resources.json,\n")
    out.append("// https://hl7.org/fhir/R4/downloads.html), StructureDefinition snapshots.\n")
    out.append(f"// {len(primitives)} primitive types, {len(datatypes)} complex datatypes, {len(resources)} resources.\n")
    out.append("// Format: see the generator's docstring and fhir_elements.h.\n")

    prim_lines = [f"  {s['type']} {json_kind_of_primitive(s)}" for s in primitives]
    out.append('R"fhir(\nprimitives\n' + "\n".join(prim_lines) + '\n)fhir",\n')

    known = {s["type"] for s in primitives} | {s["type"] for s in datatypes} | resource_names | {"Resource"}
    paths = set()
    all_blocks = []
    for group, kind in ((datatypes, "datatype"), (bases, "abstract"), (resources, "resource")):
        for sd in group:
            for name, bkind, lines in structure_blocks(sd, kind, resource_names):
                paths.add(name)
                all_blocks.append((name, bkind, lines))
    # Every type named must resolve, or the codec would meet a hole at run time.
    for name, _, lines in all_blocks:
        for line in lines:
            for t in line.split()[2].split("|"):
                if t not in known and t not in paths:
                    raise SystemExit(f"{name}: unresolved type {t}")
    for name, bkind, lines in all_blocks:
        text = f"{name} {bkind}\n" + "\n".join(lines)
        if len(text) > MAX_BLOCK:
            raise SystemExit(f"{name}: block too long for one literal")
        out.append('R"fhir(\n' + text + '\n)fhir",\n')

    data = "".join(out)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(data)
    else:
        sys.stdout.write(data)


if __name__ == "__main__":
    main()
