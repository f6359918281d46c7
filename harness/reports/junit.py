"""report.junit.xml: one test case per cell and expectation, and per recorded claim verdict, for CI systems.

A failed expectation is a <failure> with the measured value against the expected
condition; a cell that could not run is one <error> test case.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from .model import RunReport
from .wording import plain


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml(text: str) -> str:
    # Engine.IO payloads hold \x1e separators; XML 1.0 has no way to carry them.
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def render(r: RunReport) -> str:
    name = r.scenario.name
    cases = []
    failures = errors = skipped = 0
    for c in r.cells:
        per_check = c.seconds / max(1, len(c.checks))
        if not c.judged:
            errors += 1
            case = ET.Element("testcase", classname=f"{name}.{c.cell.id}", name="cell runs", time=f"{c.seconds:.3f}")
            err = ET.SubElement(case, "error", message=_xml(c.error.splitlines()[0][:300]) if c.error.strip() else "error",
                                type="cell.error")
            err.text = _xml(c.error)
            cases.append(case)
            continue
        for x in c.checks:
            case = ET.Element("testcase", classname=f"{name}.{c.cell.id}", name=_xml(f"{x.metric} {x.condition}"),
                              time=f"{per_check:.3f}")
            if c.error:     # judged all the same: the scenario expects exactly this failure
                ET.SubElement(case, "system-out").text = _xml(c.error)
            if x.premise_failed:
                skipped += 1
                ET.SubElement(case, "skipped", message=_xml(f"premise did not hold: {x.premise_failed}"))
            elif not x.ok:
                failures += 1
                fail = ET.SubElement(case, "failure", type="expectation",
                                     message=_xml(f"expected {x.metric} {x.condition}, measured {plain(x.value, 200)}"))
                fail.text = _xml((f"{x.why}\n" if x.why else "")
                                 + f"scenario.yaml line {x.line}; timeline: cells/{c.cell.id}/timeline.jsonl")
            cases.append(case)
    for v in r.claims:
        if v.claim.recorded is None or not v.complete:
            continue
        case = ET.Element("testcase", classname=f"{name}.claims", name=_xml(f"{v.claim.id} is {v.claim.recorded}"),
                          time="0")
        if v.changed:
            failures += 1
            fail = ET.SubElement(case, "failure", type="verdict",
                                 message=_xml(f"claim {v.claim.id}: measured {v.verdict}, the scenario records {v.claim.recorded}"))
            fail.text = _xml(f"{v.claim.text}\nscenario.yaml line {v.claim.line}; deciding cells: {', '.join(v.deciding) or 'none'}")
        cases.append(case)
    suites = ET.Element("testsuites", name="siolab", tests=str(len(cases)), failures=str(failures),
                        errors=str(errors))
    suite = ET.SubElement(suites, "testsuite", name=name, tests=str(len(cases)), failures=str(failures),
                          errors=str(errors), skipped=str(skipped), time=f"{sum(c.seconds for c in r.cells):.3f}")
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="run", value=r.run_dir.name)
    for k, v in r.meta.get("versions", {}).items():
        ET.SubElement(props, "property", name=f"version.{k}", value=str(v))
    suite.extend(cases)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
