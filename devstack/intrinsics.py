"""Reading infra/template.yaml offline: the YAML loader, the SAM transform and the intrinsic resolver.

load_template understands CloudFormation's short forms (!Ref, !GetAtt A.B, !Sub, ...); translate runs the
SAM transform with the translator's bundled managed-policy map, without AWS calls; Scope resolves
Ref/GetAtt/Sub/Join/Select/Split/If and the condition functions against parameters, pseudo parameters
and whatever exists so far. provision.py builds the local stack with them; tests read roles with them.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml
from samtranslator.internal.managed_policies import get_bundled_managed_policy_map
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

_LOCAL_CODE = "s3://local-build/journeys.zip"  # `sam build` rewrites local CodeUris; the translator wants S3
SUB_VAR = re.compile(r"\$\{([^!}][^}]*)\}")
_NO_VALUE = object()  # AWS::NoValue: the property or list item disappears


class TemplateError(Exception):
    """The template declares something the local stack cannot build faithfully."""


try:  # libyaml's parser, in C: the template is read for every local stack, and in Python that took most of a second
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # a PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]


class _CfnLoader(_SafeLoader):
    """SafeLoader plus CloudFormation short forms (!Ref, !GetAtt A.B, !Sub, ...), without touching SafeLoader."""


def _intrinsic(loader: _SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    key = suffix if suffix in ("Ref", "Condition") else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        scalar = loader.construct_scalar(node)
        return {key: scalar.split(".", 1) if suffix == "GetAtt" else scalar}
    if isinstance(node, yaml.SequenceNode):
        return {key: loader.construct_sequence(node, deep=True)}
    assert isinstance(node, yaml.MappingNode)  # the only other YAML node kind
    return {key: loader.construct_mapping(node, deep=True)}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path) -> dict[str, Any]:
    template: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    return template


Stamp = tuple[Path, bytes]  # a file and a digest of what it held: what a remembered result rests on


def stamp(path: Path) -> Stamp:
    """The file and a digest of its bytes (a tenth of a millisecond for the template; a time and a size can match
    for two writes in one clock tick)."""
    return path, hashlib.blake2b(path.read_bytes(), digest_size=16).digest()


_TRANSLATED: dict[tuple[Path, str, tuple[tuple[str, str], ...]], tuple[list[Stamp], dict[str, Any]]] = {}


def translate(template_path: Path, region: str, parameters: Mapping[str, str] | None = None) -> dict[str, Any]:
    """SAM -> CloudFormation offline: the translator's bundled managed-policy map, no AWS calls.

    Every local stack translates the template, which took a quarter of a second: the result is remembered until a
    file it was read from changes, and each caller gets a copy of its own (provisioning takes properties out)."""
    key = (template_path.resolve(), region, tuple(sorted((parameters or {}).items())))
    remembered = _TRANSLATED.get(key)
    if remembered is None or any(stamp(seen[0]) != seen for seen in remembered[0]):
        read: list[Stamp] = []
        remembered = _TRANSLATED[key] = (read, _translate(key[0], region, parameters, read))
    return copy.deepcopy(remembered[1])


def _translate(
    template_path: Path, region: str, parameters: Mapping[str, str] | None, read: list[Stamp]
) -> dict[str, Any]:
    read.append(stamp(template_path))
    sam = load_template(template_path)
    functions = [r.get("Properties", {}) for r in sam["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    for props in [sam.get("Globals", {}).get("Function", {}), *functions]:
        if isinstance(props.get("CodeUri"), str) and not props["CodeUri"].startswith("s3://"):
            props["CodeUri"] = _LOCAL_CODE
    for resource in sam["Resources"].values():  # `sam deploy` uploads a local ASL file; here it is inlined
        props = resource.get("Properties", {})
        uri = props.get("DefinitionUri") if resource["Type"] == "AWS::Serverless::StateMachine" else None
        if isinstance(uri, str) and not uri.startswith("s3://"):
            asl_path = template_path.parent / props.pop("DefinitionUri")
            read.append(stamp(asl_path))
            props["Definition"] = yaml.load(asl_path.read_text(encoding="utf-8"), Loader=_SafeLoader)  # JSON is YAML
    session = boto3.Session(region_name=region)  # only tells the translator its region and partition
    translator = Translator(get_bundled_managed_policy_map("aws"), Parser(), boto_session=session)
    try:
        translated: dict[str, Any] = translator.translate(sam, parameter_values=dict(parameters or {}))  # untyped
        return translated
    except InvalidDocumentException as error:
        raise TemplateError("; ".join(cause.message for cause in error.causes)) from error
    finally:
        translator.metrics.publish()  # to the offline dummy publisher: otherwise it warns at exit


@dataclass
class Scope:
    """What intrinsics resolve against: parameters, pseudo parameters, conditions and what exists so far."""

    refs: dict[str, Any]
    conditions: Mapping[str, Any]
    attrs: dict[str, dict[str, str]] = field(default_factory=dict)
    evaluated: dict[str, bool] = field(default_factory=dict)

    def condition(self, name: str) -> bool:
        if name not in self.evaluated:
            self.evaluated[name] = bool(self.resolve(self.conditions[name]))
        return self.evaluated[name]

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in map(self.resolve, value) if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key in _INTRINSICS and (key != "Condition" or isinstance(arg, str)):  # not an IAM Condition block
                return _INTRINSICS[key](self, arg)
            if key.startswith("Fn::"):
                raise TemplateError(f"{key} is not supported by the local stack")
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in value.items()) if v is not _NO_VALUE}

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name not in self.refs:
            raise TemplateError(f"Ref {name}: nothing of that name exists locally")
        return self.refs[name]

    def get_att(self, logical_id: str, attribute: str) -> str:
        try:
            return self.attrs[logical_id][attribute]
        except KeyError:
            raise TemplateError(f"GetAtt {logical_id}.{attribute} has no local value") from None

    def sub(self, arg: str | list[Any]) -> str:
        text, names = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in names:
                return str(names[name])
            return str(self.get_att(*name.split(".", 1)) if "." in name else self.ref(name))

        return SUB_VAR.sub(value, text).replace("${!", "${")


_INTRINSICS: dict[str, Callable[[Scope, Any], Any]] = {
    "Ref": lambda s, a: s.ref(a),
    "Fn::GetAtt": lambda s, a: s.get_att(*(a.split(".", 1) if isinstance(a, str) else s.resolve(a))),
    "Fn::Sub": lambda s, a: s.sub(a),
    "Fn::Join": lambda s, a: str(a[0]).join(str(item) for item in s.resolve(a[1])),
    "Fn::Select": lambda s, a: s.resolve(a[1])[int(s.resolve(a[0]))],
    "Fn::Split": lambda s, a: str(s.resolve(a[1])).split(a[0]),
    "Fn::If": lambda s, a: s.resolve(a[1] if s.condition(a[0]) else a[2]),
    "Fn::Equals": lambda s, a: s.resolve(a[0]) == s.resolve(a[1]),
    "Fn::Not": lambda s, a: not s.resolve(a[0]),
    "Fn::And": lambda s, a: all(s.resolve(item) for item in a),
    "Fn::Or": lambda s, a: any(s.resolve(item) for item in a),
    "Condition": lambda s, a: s.condition(a),
}


def references(value: Any) -> set[str]:
    """Every logical name a fragment points at through Ref, GetAtt or Sub."""
    if isinstance(value, list):
        return set().union(*map(references, value))
    if not isinstance(value, dict):
        return set()
    found: set[str] = set()
    for key, arg in value.items():
        if key == "Ref" and isinstance(arg, str):
            found.add(arg)
        elif key == "Fn::GetAtt":
            found.add(arg.split(".")[0] if isinstance(arg, str) else arg[0])
        elif key == "Fn::Sub":
            found |= {name.split(".")[0] for name in SUB_VAR.findall(arg if isinstance(arg, str) else arg[0])}
        found |= references(arg)
    return found


def parameter_values(template: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, Any]:
    """Each parameter's value; a CommaDelimitedList's is a list, as CloudFormation's Ref gives it ("" is [""])."""
    declared = template.get("Parameters", {})
    if missing := sorted(set(declared) - set(given) - {k for k, v in declared.items() if "Default" in v}):
        raise TemplateError(f"parameters {missing} have no default and no local value")
    values = {**{k: str(v["Default"]) for k, v in declared.items() if "Default" in v}, **given}
    lists = {k for k, v in declared.items() if v.get("Type") == "CommaDelimitedList"}
    return {k: [item.strip() for item in v.split(",")] if k in lists else v for k, v in values.items()}


def pseudo_parameters(region: str, account: str, stack_name: str) -> dict[str, str]:
    return {
        "AWS::Region": region,
        "AWS::AccountId": account,
        "AWS::Partition": "aws",
        "AWS::StackName": stack_name,
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackId": f"arn:aws:cloudformation:{region}:{account}:stack/{stack_name}/local",
    }
