"""``trailmatch scan``, ``trailmatch rules lint`` and ``trailmatch rules show``.

``scan`` exit status: 0 when everything was read and every delivery succeeded; 1 when the scan
ran to the end but some input could not be read (malformed records, truncated files) or some
deliveries (alarm actions included) failed (see the dead-letter spool); 2 for usage errors and
rules that cannot be deployed. ``rules lint``: 0 no findings, 1 findings, 2 unreadable rules.

With metric filters (from ``--rules`` or ``--pack``), every record is also a log event of their
log groups: the scan publishes their metrics, then simulates the alarms on event time and runs
the actions of their transitions (``docs/ALARMS.md``). With ``--log-events`` the inputs are other
CloudWatch Logs log events (:mod:`trailmatch.logevents`), seen by the metric filters only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any, TextIO

from trailmatch import model
from trailmatch.alarms import ActionDelivery, AlarmAction, AlarmReport, AlarmSimulator
from trailmatch.cli import InputError, Parser
from trailmatch.dispatch import Destination, Dispatcher, InvalidDestination, StdoutDestination
from trailmatch.lint import lint
from trailmatch.logevents import LogEventScanner
from trailmatch.metrics import MetricStore
from trailmatch.rules import RulesError, load_rules
from trailmatch.rules.packs import list_packs, load_pack
from trailmatch.scan import (
    DeliverFn,
    Progress,
    ScanError,
    Scanner,
    print_problem,
    render_alarm_report,
    render_summary,
)
from trailmatch.sources import SourceError, expand
from trailmatch.state import StateError, StateStore
from trailmatch.transform import EventJSON, TransformError, payload_for

__all__ = ["load_deployment", "register", "split_rules_argument"]

_REGIONS = re.compile(r"[a-z]{2,}(-[a-z]+)+-[0-9]+(,[a-z]{2,}(-[a-z]+)+-[0-9]+)*")
_DEFAULT_DLQ = "trailmatch-dead-letters.jsonl"


def split_rules_argument(value: str) -> tuple[str, list[str] | None]:
    """``FILE[@REGION[,REGION...]]`` → ``(FILE, regions or None)``.

    Example:
        >>> split_rules_argument("sender.yaml@us-east-1,eu-west-1")
        ('sender.yaml', ['us-east-1', 'eu-west-1'])
        >>> split_rules_argument("me@example/rules.yaml")
        ('me@example/rules.yaml', None)
    """
    head, sep, tail = value.rpartition("@")
    if sep and head and _REGIONS.fullmatch(tail):
        return head, tail.split(",")
    return value, None


def _parameters(values: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InputError(f"--parameter {item!r}: write Name=Value (e.g. --parameter Email=sec@example.com)")
        out[name] = value
    return out


def _overrides(values: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise InputError(
                f"--source-override {item!r}: write EVENTSOURCE=SOURCE (e.g. monitoring.amazonaws.com=aws.cloudwatch)"
            )
        out[name] = value
    return out


def load_deployment(args: argparse.Namespace) -> model.Deployment:
    """The deployment of every ``--rules`` file, deployed in its regions.

    Raises:
        InputError: a rules file cannot be read or deployed (the message names file and line).
    """
    regions = args.region or None
    parameters = _parameters(args.parameter or [])
    deployment = model.Deployment()
    packs = {p.name: p for p in list_packs()}
    for item in getattr(args, "pack", None) or []:
        name, pack_regions = split_rules_argument(item)
        if name not in packs:
            raise InputError(f"--pack {name}: no such rule pack (packs: {', '.join(sorted(packs)) or 'none'})")
        own = {k: v for k, v in parameters.items() if k in packs[name].parameters}
        try:
            deployment.extend(load_pack(name, regions=pack_regions or regions, account=args.account, parameters=own))
        except RulesError as e:
            raise InputError(str(e)) from e
    for item in args.rules or []:
        path, file_regions = split_rules_argument(item)
        try:
            deployment.extend(
                load_rules(path, regions=file_regions or regions, account=args.account, parameters=parameters)
            )
        except RulesError as e:
            raise InputError(str(e)) from e
    return deployment


def _json_value(payload: str) -> str:
    """A payload as a JSON value of a dry-run line: the JSON it holds, else the text as a string."""
    try:
        return json.dumps(json.loads(payload), ensure_ascii=False)
    except ValueError:
        return json.dumps(payload, ensure_ascii=False)


class _DryRun:
    """Prints ``{"rule", "target", "payload"}`` lines instead of delivering."""

    def __init__(self, stream: TextIO, stderr: TextIO) -> None:
        self.stream = stream
        self.stderr = stderr
        self.counts: dict[str, Counter[str]] = {}

    def __call__(self, rule: model.Rule, target: model.Target, event: EventJSON, event_id: str) -> None:
        counts = self.counts.setdefault(rule.arn, Counter())
        try:
            payload = payload_for(target, rule, event, event.get("time"))
        except TransformError as e:
            counts["invalid"] += 1
            self.stderr.write(f"trailmatch: rule {rule.name} target {target.id} event {event_id}: {e}\n")
            return
        head = json.dumps({"rule": rule.name, "target": target.id}, ensure_ascii=False)[:-1]
        # the whole event is compact JSON already: no parse
        body = payload if payload is event.text else _json_value(payload)
        self.stream.write(f'{head}, "payload": {body}}}\n')
        counts["dry-run"] += 1

    def alarm(self, action: AlarmAction) -> None:
        """Prints ``{"alarm", "action", "state", "payload"}`` for an alarm action."""
        t = action.transition
        line = {"alarm": action.alarm.name, "action": action.action_arn, "state": t.new_state}
        head = json.dumps(line, ensure_ascii=False)[:-1]
        self.stream.write(f'{head}, "payload": {_json_value(action.notification.message)}}}\n')
        self.counts.setdefault(action.alarm.arn, Counter())["dry-run"] += 1


def _by_rule(dispatcher: Dispatcher) -> dict[str, Counter[str]]:
    out: dict[str, Counter[str]] = {}
    for key, n in dispatcher.summary().items():
        out.setdefault(key.rule, Counter())[key.outcome] += n
    return out


def _write_metrics(metrics: MetricStore, path: str) -> int:
    """Writes the datapoints as CSV (``.csv``) or JSON Lines (anything else); how many."""
    try:
        with open(path, "w", encoding="utf-8", newline="") as f:
            return metrics.write_csv(f) if path.lower().endswith(".csv") else metrics.write_jsonl(f)
    except OSError as e:
        raise InputError(f"--metrics-out {path}: {e.strerror or e}") from e


def _cmd_scan(args: argparse.Namespace) -> int:
    if not args.rules and not args.pack:
        raise InputError("nothing to replay: give --rules FILE or --pack NAME (see `trailmatch rules packs`)")
    deployment = load_deployment(args)
    for warning in deployment.warnings:
        print(f"trailmatch: warning: {warning}", file=sys.stderr)
    if args.log_events:
        if not deployment.metric_filters:
            raise InputError("--log-events: the rules define no metric filter to evaluate on the log events")
        if deployment.rules:
            print(
                f"trailmatch: warning: --log-events: the {len(deployment.rules)} EventBridge rule(s) are not "
                "applied (log events are not EventBridge events); only metric filters are",
                file=sys.stderr,
            )
    try:
        log_scanner = LogEventScanner(deployment.metric_filters) if args.log_events else None
        scanner = Scanner(
            deployment,
            read_only=args.read_only_rule,
            ids=args.ids,
            source_overrides=_overrides(args.source_override or []),
            vpce_detail_type=args.vpce_detail_type,
            validation=args.validation,
            threads=args.threads,
        )
    except ScanError as e:
        raise InputError(str(e)) from e
    try:
        expanded = expand(args.paths, s3_endpoint_url=args.s3_endpoint_url)
    except SourceError as e:
        raise InputError(str(e)) from e
    sizes = [s.size for s in expanded.sources]
    total_bytes = sum(s for s in sizes if s is not None) if all(s is not None for s in sizes) else None
    show_progress = args.progress if args.progress is not None else len(expanded.sources) > 1
    progress = Progress(
        sys.stderr if show_progress else None,
        total_files=len(expanded.sources),
        total_bytes=total_bytes,
        force=args.progress is True,
    )
    state: StateStore | None = None
    dispatcher: Dispatcher | None = None
    dry: _DryRun | None = None
    deliver: DeliverFn
    try:
        if args.dry_run:
            deliver = dry = _DryRun(sys.stdout, sys.stderr)
        else:
            if args.state:
                try:
                    state = StateStore(args.state)
                except StateError as e:
                    raise InputError(f"--state {args.state}: {e}") from e
            dispatcher = Dispatcher(deployment, state=state, dlq_path=args.dlq, stdout=sys.stdout, stderr=sys.stderr)
            problems = dispatcher.problems()
            if problems:
                raise InputError("targets whose destination cannot be used:\n  " + "\n  ".join(problems))
            d = dispatcher

            def deliver(rule: model.Rule, target: model.Target, event: EventJSON, event_id: str) -> None:
                d.deliver(rule, target, event, event_id=event_id)

        watching = bool(deployment.metric_filters or deployment.alarms)
        metrics = (MetricStore.load(state) if state is not None else MetricStore()) if watching else None
        if log_scanner is not None:
            summary = log_scanner.scan(
                expanded.sources,
                metrics=metrics,
                progress=progress,
                on_problem=print_problem(sys.stderr),
                ignored=expanded.ignored,
            )
        else:
            summary = scanner.scan(
                expanded.sources,
                deliver,
                progress=progress,
                on_problem=print_problem(sys.stderr),
                ignored=expanded.ignored,
                metrics=metrics,
            )
        report: AlarmReport | None = None
        if metrics is not None:
            if state is not None:
                metrics.save(state)
            simulator = AlarmSimulator(deployment.alarms, metrics, state=state, tail=args.alarm_tail)
            notify = dry.alarm if dry is not None else ActionDelivery(dispatcher) if dispatcher is not None else None
            report = simulator.run(notify=notify)
            if args.metrics_out:
                _write_metrics(metrics, args.metrics_out)
        deliveries = dry.counts if dry is not None else _by_rule(dispatcher) if dispatcher is not None else {}
        failed = sum(c["failed"] + c["invalid"] for c in deliveries.values())
    finally:
        progress.close()
        if dispatcher is not None:
            dispatcher.close()
        if state is not None:
            state.close()
    if not args.quiet:
        print(
            render_summary(summary, deployment.rules, deliveries, metric_filters=deployment.metric_filters),
            file=sys.stderr,
        )
        if report is not None and (deployment.alarms or report.warnings):
            print(render_alarm_report(report, deployment.alarms, deliveries), file=sys.stderr)
        if failed and not args.dry_run:
            print(f"Failed deliveries: {failed:,} (dead letters in {args.dlq})", file=sys.stderr)
    if args.summary_json:
        doc = summary.to_dict()
        doc["outcomes"] = {arn: dict(sorted(c.items())) for arn, c in sorted(deliveries.items())}
        if report is not None:
            doc["alarms"] = {
                "transitions": [t.to_dict() for t in report.transitions],
                "tentative": [t.to_dict() for t in report.tentative],
                "states": {arn: r.state for arn, r in sorted(report.records.items())},
                "warnings": report.warnings,
            }
        with open(args.summary_json, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
    return 1 if summary.errors or failed else 0


def _cmd_lint(args: argparse.Namespace) -> int:
    if not args.rules and not args.pack:
        raise InputError("give rules files or --pack NAME")
    deployment = load_deployment(args)
    findings = lint(deployment)
    for finding in findings:
        print(finding)
    n = len(findings)
    files = len(args.rules) + len(args.pack or [])
    checked = [
        (len(deployment.rules), "rule"),
        (len(deployment.metric_filters), "metric filter"),
        (len(deployment.alarms), "alarm"),
    ]
    what = ", ".join(f"{k} {word}{'s' if k != 1 else ''}" for k, word in checked if k or word == "rule")
    print(
        f"{n} finding{'s' if n != 1 else ''} in {what} from {files} file{'s' if files != 1 else ''}",
        file=sys.stderr,
    )
    return 1 if findings else 0


def _destination(dispatcher: Dispatcher, rule: model.Rule, target: model.Target) -> str:
    bus = model.bus_of(target.arn)
    if bus is not None:
        return f"forward to bus {bus[1]} in {bus[0]}"
    return _describe(dispatcher.destination_for(rule, target))


def _describe(d: Destination) -> str:
    """Where deliveries go, for ``rules show``."""
    if isinstance(d, InvalidDestination):
        return f"UNUSABLE: {d.reason}"
    if isinstance(d, StdoutDestination) and d.unbound:
        return "stdout (unbound)"
    return d.description


_OPERATORS = {
    "GreaterThanOrEqualToThreshold": ">=",
    "GreaterThanThreshold": ">",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
}


def _condition(alarm: model.Alarm) -> str:
    """``Sum of S3BucketMonitoring/CreateBucketCount > 0 for 1 of 1 periods of 60 s``."""
    op = _OPERATORS.get(alarm.comparison_operator, alarm.comparison_operator)
    dims = f" {alarm.dimensions}" if alarm.dimensions else ""
    return (
        f"{alarm.statistic} of {alarm.namespace}/{alarm.metric_name}{dims} {op} {alarm.threshold:g} "
        f"for {alarm.m} of {alarm.evaluation_periods} periods of {alarm.period} s"
    )


def _cmd_packs(args: argparse.Namespace) -> int:
    packs = list_packs()
    if args.json:
        doc = [
            {
                "name": p.name,
                "title": p.title,
                "source": p.source,
                "metric_filters": p.metric_filters,
                "alarms": p.alarms,
                "rules": p.rules,
                "topics": p.topics,
                "parameters": dict(p.parameters),
            }
            for p in packs
        ]
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return 0
    for p in packs:
        counts = ", ".join(
            f"{n} {word}{'s' if n != 1 else ''}"
            for n, word in (
                (p.rules, "rule"),
                (p.metric_filters, "metric filter"),
                (p.alarms, "alarm"),
                (p.topics, "topic"),
            )
            if n
        )
        print(f"{p.name}  {p.title}  ({counts})")
        print(f"  source     {p.source}")
        for name, description in p.parameters.items():
            print(f"  parameter  {name}: {description}")
        print(f"  use        trailmatch scan --pack {p.name}[@REGION] [--parameter Name=Value] PATH ...")
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    if not args.rules and not args.pack:
        raise InputError("give rules files or --pack NAME")
    deployment = load_deployment(args)
    with Dispatcher(deployment, stdout=sys.stdout) as dispatcher:
        if args.json:
            doc = {
                "rules": [
                    {
                        "name": r.name,
                        "arn": r.arn,
                        "region": r.region,
                        "bus": r.bus,
                        "state": r.state,
                        "event_pattern": json.loads(r.event_pattern),
                        "location": str(r.location) if r.location else None,
                        "targets": [
                            {"id": t.id, "arn": t.arn, "destination": _destination(dispatcher, r, t)} for t in r.targets
                        ],
                    }
                    for r in deployment.rules
                ],
                "buses": [{"name": b.name, "region": b.region, "arn": b.arn} for b in deployment.buses],
                "topics": [
                    {
                        "arn": t.arn,
                        "subscriptions": [{"protocol": s.protocol, "endpoint": s.endpoint} for s in t.subscriptions],
                    }
                    for t in deployment.topics
                ],
                "metric_filters": [
                    {
                        "name": f.name,
                        "region": f.region,
                        "log_group": f.log_group,
                        "filter_pattern": f.filter_pattern,
                        "metric": f"{f.transformation.metric_namespace}/{f.transformation.metric_name}",
                        "metric_value": f.transformation.metric_value,
                        "default_value": f.transformation.default_value,
                        "dimensions": dict(f.transformation.dimensions),
                        "unit": f.transformation.unit,
                        "location": str(f.location) if f.location else None,
                    }
                    for f in deployment.metric_filters
                ],
                "alarms": [
                    {
                        "name": a.name,
                        "arn": a.arn,
                        "region": a.region,
                        "condition": _condition(a),
                        "treat_missing_data": a.treat_missing_data,
                        "actions": {
                            "ALARM": list(a.alarm_actions),
                            "OK": list(a.ok_actions),
                            "INSUFFICIENT_DATA": list(a.insufficient_data_actions),
                        },
                        "destinations": {arn: _describe(dispatcher.action_destination(a, arn)) for arn in a.actions},
                        "location": str(a.location) if a.location else None,
                    }
                    for a in deployment.alarms
                ],
                "unsupported": [{"logical_id": u.logical_id, "type": u.type} for u in deployment.unsupported],
                "warnings": deployment.warnings,
            }
            print(json.dumps(doc, indent=2, ensure_ascii=False))
            return 0
        for r in deployment.rules:
            where = f"  ({r.location})" if r.location else ""
            print(f"rule {r.name}  {r.region}/{r.bus}  {r.state}{where}")
            print(f"  pattern  {json.dumps(json.loads(r.event_pattern), ensure_ascii=False)}")
            for t in r.targets:
                print(f"  target   {t.id}  {t.arn}  -> {_destination(dispatcher, r, t)}")
        for f in deployment.metric_filters:
            tf = f.transformation
            where = f"  ({f.location})" if f.location else ""
            print(f"metric filter {f.name}  {f.region}  log group {f.log_group}{where}")
            print(f"  pattern  {f.filter_pattern or '(empty: every log event)'}")
            extra = "".join(
                [
                    f", default {tf.default_value:g}" if tf.default_value is not None else "",
                    f", unit {tf.unit}" if tf.unit else "",
                    f", dimensions {dict(tf.dimensions)}" if tf.dimensions else "",
                ]
            )
            print(f"  metric   {tf.metric_namespace}/{tf.metric_name} = {tf.metric_value}{extra}")
        for a in deployment.alarms:
            where = f"  ({a.location})" if a.location else ""
            print(f"alarm {a.name}  {a.region}{where}")
            print(f"  when     {_condition(a)}; missing data: {a.treat_missing_data}")
            for state, arns in (
                ("ALARM", a.alarm_actions),
                ("OK", a.ok_actions),
                ("INSUFFICIENT_DATA", a.insufficient_data_actions),
            ):
                for arn in arns:
                    print(f"  on {state:<17} {arn}  -> {_describe(dispatcher.action_destination(a, arn))}")
        for b in deployment.buses:
            print(f"bus {b.name}  {b.region}  {b.arn}")
        for topic in deployment.topics:
            subs = ", ".join(f"{s.protocol}:{s.endpoint}" for s in topic.subscriptions) or "no subscriptions"
            print(f"topic {topic.arn}  ({subs})")
        for u in deployment.unsupported:
            print(f"not modelled: {u.logical_id} ({u.type})")
        for w in deployment.warnings:
            print(f"warning: {w}")
    return 0


def _rules_options(p: argparse.ArgumentParser, *, positional: bool) -> None:
    if positional:
        p.add_argument("rules", nargs="*", metavar="FILE[@REGION[,REGION...]]", help="rules files")
    else:
        p.add_argument(
            "--rules",
            action="append",
            metavar="FILE[@REGION[,REGION...]]",
            help="a CloudFormation template, AWS CLI output or native rules file, deployed like a stack in each "
            "region after '@' (else each --region); repeatable",
        )
    p.add_argument(
        "--pack",
        action="append",
        metavar="NAME[@REGION[,REGION...]]",
        help="a built-in rule pack (see `trailmatch rules packs`), deployed like a rules file; repeatable",
    )
    p.add_argument(
        "--region", action="append", metavar="R", help="deploy in this region (repeatable; default us-east-1)"
    )
    p.add_argument("--account", metavar="ID", help="account id of the deployment (AWS::AccountId)")
    p.add_argument("--parameter", action="append", metavar="Name=Value", help="template parameter (repeatable)")


def register(commands: Any) -> None:
    """Adds ``scan`` and ``rules`` to the ``trailmatch`` sub-command parsers."""
    scan = commands.add_parser(
        "scan",
        help="replay CloudTrail logs through EventBridge rules and deliver what matches",
        description="Reads CloudTrail log files (.json, .json.gz, JSON Lines, arrays; directories, globs, "
        "'-' for stdin, s3://bucket/prefix), matches every record on its region's default bus, forwards to "
        "buses, and delivers to each target's destination. A summary goes to stderr.",
    )
    _rules_options(scan, positional=False)
    scan.add_argument("paths", nargs="+", metavar="PATH", help="files, directories, globs, '-' or s3://bucket/prefix")
    scan.add_argument("--dry-run", action="store_true", help='print {"rule","target","payload"} lines; send nothing')
    scan.add_argument("--state", metavar="FILE", help="SQLite state file: deliveries already made are not repeated")
    scan.add_argument(
        "--dlq", default=_DEFAULT_DLQ, metavar="FILE", help=f"dead-letter spool (JSON Lines; default {_DEFAULT_DLQ})"
    )
    scan.add_argument(
        "--read-only-rule",
        choices=["flag", "name-prefix"],
        default="flag",
        help="what ENABLED rules treat as read-only: the record's readOnly flag (default) or Get*/List*/Describe*",
    )
    scan.add_argument(
        "--source-override",
        action="append",
        metavar="EVENTSOURCE=SOURCE",
        help="envelope source for an eventSource (e.g. monitoring.amazonaws.com=aws.cloudwatch)",
    )
    scan.add_argument("--vpce-detail-type", metavar="TEXT", help="deliver AwsVpceEvent records with this detail-type")
    scan.add_argument(
        "--ids",
        choices=["deterministic", "random"],
        default="deterministic",
        help="envelope id: UUIDv5 of eventID (default, reproducible) or random as AWS",
    )
    scan.add_argument("--validation", choices=["full", "lazy"], default="full", help="JSON validation of records")
    scan.add_argument("--threads", type=int, metavar="N", help="reader threads (default: cores)")
    scan.add_argument("--s3-endpoint-url", metavar="URL", help="S3-compatible endpoint for s3:// paths")
    scan.add_argument("--summary-json", metavar="FILE", help="also write the summary as JSON")
    scan.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: on a terminal, for several files)",
    )
    scan.add_argument(
        "--log-events",
        action="store_true",
        help="the PATHs hold CloudWatch Logs log events, not CloudTrail files (aws logs filter-log-events "
        "output, subscription payloads, JSON Lines with timestamp and message, text lines starting with a "
        "time): only metric filters and alarms apply",
    )
    scan.add_argument(
        "--alarm-tail",
        choices=["show", "deliver", "off"],
        default="show",
        help="after the end of the data, alarms keep being evaluated as if no data came: show those transitions "
        "as tentative (default), commit and deliver them (the logs are complete), or stop at the data's end",
    )
    scan.add_argument(
        "--metrics-out", metavar="FILE", help="write the metric filters' per-minute datapoints (.csv, else JSON Lines)"
    )
    scan.add_argument("--quiet", "-q", action="store_true", help="no summary")
    scan.set_defaults(run=_cmd_scan)

    rules = commands.add_parser("rules", help="check and show rules files")
    sub = rules.add_subparsers(dest="rules_command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    lint_p = sub.add_parser(
        "lint",
        help="find rules that deploy but will not do what was meant",
        description="Checks: ENABLED rules that only match read-only events, global-service rules outside "
        "us-east-1, patterns that never match CloudTrail events, targets without a destination, and more "
        "(see trailmatch.lint). Exit status 1 if anything is found.",
    )
    _rules_options(lint_p, positional=True)
    lint_p.set_defaults(run=_cmd_lint)
    show = sub.add_parser("show", help="print the rules, targets and destinations a scan would use")
    _rules_options(show, positional=True)
    show.add_argument("--json", action="store_true", help="as JSON")
    show.set_defaults(run=_cmd_show)
    packs = sub.add_parser(
        "packs",
        help="list the built-in rule packs (trailmatch scan --pack NAME)",
        description="The rule packs shipped with trailmatch: what each holds, where its patterns come from, "
        "its parameters.",
    )
    packs.add_argument("--json", action="store_true", help="as JSON")
    packs.set_defaults(run=_cmd_packs)
