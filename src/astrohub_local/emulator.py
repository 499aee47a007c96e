"""Local AWS emulator: moto in server mode behind a small WSGI middleware.

The tests and ``make demo`` point boto3 (and Ansible's AWS modules) at this
server instead of AWS. On top of moto it adds:

* a per-server count of the AWS API calls it receives, as ``"<service>:<Action>"``,
  readable with :meth:`Emulator.calls` or ``GET /_astrohub/calls``, which is how
  the tests prove that a step made no AWS API calls at all;
* the few EFS operations that ``community.aws.efs`` uses and moto lacks: the
  legacy tag APIs (``DescribeTags``, ``CreateTags``, ``DeleteTags``) and
  ``PutBackupPolicy``;
* the two AWS Budgets operations the platform's ``budget`` module uses and moto lacks:
  ``UpdateBudget`` and ``DescribeSubscribersForNotification``, on moto's own budgets;
* the AWS Backup operations restore_home.yml uses and moto lacks: ``StartBackupJob`` (an
  on-demand backup that completes at once, so tests have a recovery point),
  ``ListRecoveryPointsByResource``, ``StartRestoreJob`` and ``DescribeRestoreJob`` (a restore
  job completes at once; nothing is written to any file system);
* Cost Explorer's ``ListCostAllocationTags`` and ``UpdateCostAllocationTagsStatus``: a user-defined
  tag key is listed (Inactive until activated) once a resource in the emulator carries it, as
  AWS billing lists it once it has seen it on a resource (there, up to 24 hours later);
* AWS's own resource-type name for NAT gateways in EC2 ``DescribeTags``
  (``natgateway``; moto says ``nat-gateway``, so ``amazon.aws.ec2_vpc_nat_gateway``,
  which filters on AWS's name, saw no tags and re-tagged on every run);
* ``tag:<key>``, ``tag-key`` and ``tag-value`` filters in EC2 ``DescribeNatGateways``, which
  moto ignores: a network teardown found, and deleted, every deployment's NAT gateways;
* policy conditions evaluated as AWS does for what our policies use: the ``Bool``
  operator, requests counted as ``aws:SecureTransport=true`` (the emulator stands in for
  AWS's HTTPS endpoints), and a statement whose condition does not hold is neutral.
  moto ignores operators it lacks (so a TLS-only bucket policy, a Deny conditioned on
  ``aws:SecureTransport``, denied everything) and answers DENIED for unmet conditions.

Moto keeps its state in process-global backends, so every server in one process
shares it, and :meth:`Emulator.reset` wipes it for all of them. The call counter
belongs to one :class:`Emulator`.

Run it on its own with ``python -m astrohub_local.emulator [--port N] [--url-file PATH]
[--pid-file PATH]``.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Response

from astrohub_local.stopping import serve_until_signalled

if TYPE_CHECKING:
    from moto.efs.models import EFSBackend, FileSystem

__all__ = ["CallCounter", "Emulator", "EmulatorMiddleware", "main"]

HOST = "127.0.0.1"
# How long a start may take before it counts as hung: generous, because a start under a loaded
# CPU (the test suites run side by side) takes many times the 2-3 s of an idle one. It is no
# speed check; a process that dies is reported at once.
STARTUP_TIMEOUT_SECONDS = 120.0
# How long a stop may take before the server thread or the process is given up on or killed.
STOP_TIMEOUT_SECONDS = 15.0

WSGIEnvironment = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApplication = Callable[[WSGIEnvironment, StartResponse], Iterable[bytes]]

# Credential scope of a SigV4 signature (header or presigned query string):
# AKID/DATE/REGION/SERVICE/aws4_request
_CREDENTIAL_RE = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request")
# smithy-rpc-v2-cbor services put the operation in the path instead of a header.
_RPC_V2_PATH_RE = re.compile(r"^/service/[^/]+/operation/([^/]+)$")
# Path segments that name an API (a word, or an API version date) rather than a resource.
_LITERAL_SEGMENT_RE = re.compile(r"^(?:[a-z][a-z-]*|\d{4}-\d{2}-\d{2})$")
# Resource ids such as fs-0abc... may happen to contain no digit; catch them anyway.
_RESOURCE_ID_RE = re.compile(r"^[a-z]+-[0-9a-f]{8,}$")

_EFS_TAGS_RE = re.compile(r"^/2015-02-01/tags/(?P<fs_id>[^/]+)/?$")
_EFS_CREATE_TAGS_RE = re.compile(r"^/2015-02-01/create-tags/(?P<fs_id>[^/]+)/?$")
_EFS_DELETE_TAGS_RE = re.compile(r"^/2015-02-01/delete-tags/(?P<fs_id>[^/]+)/?$")
_EFS_BACKUP_POLICY_RE = re.compile(r"^/2015-02-01/file-systems/(?P<fs_id>[^/]+)/backup-policy/?$")
# Our own attribute on moto's FileSystem; the leading underscore keeps it out of
# FileSystem.info_json(), which serialises every public attribute.
_BACKUP_STATUS_ATTR = "_astrohub_backup_status"

_CALLS_PATH = "/_astrohub/calls"
_CALLS_RESET_PATH = "/_astrohub/calls/reset"


def align_ec2_tag_resource_types() -> None:
    """Name NAT gateways ``natgateway`` in EC2 DescribeTags, as AWS does.

    moto derives a tag's resource type from the id prefix through one shared dict;
    fixing its entry fixes both the reported type and the ``resource-type`` filter.
    """
    from moto.ec2 import utils as ec2_utils

    ec2_utils.EC2_PREFIX_TO_RESOURCE["nat"] = "natgateway"


def filter_nat_gateways_by_tag() -> None:
    """Apply the tag filters of DescribeNatGateways (moto applies only id, VPC, subnet, state)."""
    from moto.ec2.models.nat_gateways import NatGatewayBackend
    from moto.ec2.utils import tag_filter_matches

    original = NatGatewayBackend.describe_nat_gateways
    if getattr(original, "_astrohub_patched", False):
        return

    def describe_nat_gateways(self: Any, filters: Any, nat_gateway_ids: Any) -> Any:
        found = original(self, filters, nat_gateway_ids)
        for name, values in (filters or {}).items():
            if name.startswith("tag"):
                found = [gateway for gateway in found if tag_filter_matches(gateway, name, values)]
        return found

    describe_nat_gateways._astrohub_patched = True  # type: ignore[attr-defined]
    NatGatewayBackend.describe_nat_gateways = describe_nat_gateways  # type: ignore[method-assign]


def evaluate_policy_conditions_like_aws() -> None:
    """Bool conditions, aws:SecureTransport=true, and unmet conditions neutral (AWS's rules)."""
    from moto.iam import access_control, policy_conditions

    def bool_equals(expected: list[str] | str, actual: str) -> bool:
        wanted = [expected] if isinstance(expected, str) else expected
        return str(actual).lower() in [str(w).lower() for w in wanted]

    policy_conditions.CONDITION_OPERATIONS.setdefault("Bool", bool_equals)

    statement = access_control.IAMPolicyStatement
    if getattr(statement.is_action_permitted, "_astrohub_patched", False):
        return
    original = statement.is_action_permitted

    def is_action_permitted(
        self: Any,
        action: str,
        resource: str = "*",
        principal: str | None = None,
        incoming_condition_values: dict[str, str] | None = None,
    ) -> Any:
        context = {"aws:SecureTransport": "true", **(incoming_condition_values or {})}
        if self._statement.get("Condition") and not self._check_conditions(context):
            return access_control.PermissionResult.NEUTRAL
        return original(self, action, resource, principal, context)

    is_action_permitted._astrohub_patched = True  # type: ignore[attr-defined]
    statement.is_action_permitted = is_action_permitted  # type: ignore[method-assign]


class CallCounter:
    """Thread-safe tally of ``"<service>:<Action>"`` strings."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def record(self, call: str) -> None:
        with self._lock:
            self._counts[call] += 1

    def snapshot(self) -> Counter[str]:
        with self._lock:
            return Counter(self._counts)

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


def _credential_scope(environ: WSGIEnvironment) -> tuple[str, str, str] | None:
    """(access key, region, service) of a SigV4-signed request, else None."""
    for source in (environ.get("HTTP_AUTHORIZATION", ""), environ.get("QUERY_STRING", "")):
        # Presigned URLs carry the scope URL-encoded in X-Amz-Credential.
        match = _CREDENTIAL_RE.search(source.replace("%2F", "/").replace("%2f", "/"))
        if match:
            access_key, region, service = match.groups()
            return access_key, region, service.lower()
    return None


def _read_form_body(environ: WSGIEnvironment) -> str:
    """Read a form-encoded body and put it back so moto can still read it."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return ""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return ""
    if length <= 0:
        return ""
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    # A short read must not leave moto waiting for bytes that will never come.
    environ["CONTENT_LENGTH"] = str(len(body))
    return body.decode("utf-8", errors="replace")


def _rest_shape(service: str, method: str, path: str, query: str) -> str:
    """``"<METHOD> <path>"`` with resource names replaced, so counts group by operation."""
    if service == "s3":
        # Path-style S3: /bucket/key...; sub-resources (?tagging, ?policy) pick the operation.
        parts = path.lstrip("/").split("/", 1)
        shape = "/" if not parts[0] else "/{bucket}" if len(parts) == 1 else "/{bucket}/{key}"
        params = parse_qs(query, keep_blank_values=True)
        subresources = sorted(key for key, values in params.items() if values == [""])
        return f"{method} {shape}" + (f"?{'&'.join(subresources)}" if subresources else "")
    segments = [
        seg if _LITERAL_SEGMENT_RE.match(seg) and not _RESOURCE_ID_RE.match(seg) else "{id}"
        for seg in path.strip("/").split("/")
        if seg
    ]
    return f"{method} /{'/'.join(segments)}"


def describe_call(environ: WSGIEnvironment) -> str:
    """Name the AWS API call a request makes as ``"<service>:<Action>"``."""
    scope = _credential_scope(environ)
    service = scope[2] if scope else "unsigned"
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    path = environ.get("PATH_INFO", "") or "/"
    rpc_v2 = _RPC_V2_PATH_RE.match(path)
    if rpc_v2:
        return f"{service}:{rpc_v2.group(1)}"
    query = environ.get("QUERY_STRING", "")
    action = parse_qs(query).get("Action") or parse_qs(_read_form_body(environ)).get("Action")
    if action:
        return f"{service}:{action[0]}"
    return f"{service}:{_rest_shape(service, environ.get('REQUEST_METHOD', 'GET'), path, query)}"


def _json_response(payload: object, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")


def _efs_error(code: str, message: str, status: int) -> Response:
    response = _json_response({"ErrorCode": code, "Message": message}, status)
    # botocore takes the error code from this header for rest-json services.
    response.headers["x-amzn-ErrorType"] = code
    return response


def _account_id(environ: WSGIEnvironment, access_key: str) -> str:
    """The account moto files this request under, resolved the way moto's responses do."""
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"]
    if "HTTP_X_MOTO_ACCOUNT_ID" in environ:
        return str(environ["HTTP_X_MOTO_ACCOUNT_ID"])
    from moto.iam.models import get_account_id_from  # heavy import; only needed here

    return get_account_id_from(access_key)


def _read_json_body(environ: WSGIEnvironment) -> dict[str, Any]:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    data = json.loads(raw or b"{}")
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


def _efs_addon(environ: WSGIEnvironment, access_key: str, region: str) -> Response | None:
    """Serve the EFS operations moto lacks; None lets the request through to moto."""
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "")
    routes = (
        ("GET", _EFS_TAGS_RE, _efs_describe_tags),
        ("POST", _EFS_CREATE_TAGS_RE, _efs_create_tags),
        ("POST", _EFS_DELETE_TAGS_RE, _efs_delete_tags),
        ("PUT", _EFS_BACKUP_POLICY_RE, _efs_put_backup_policy),
        ("GET", _EFS_BACKUP_POLICY_RE, _efs_describe_backup_policy),
    )
    for route_method, pattern, handler in routes:
        match = pattern.match(path)
        if method != route_method or not match:
            continue
        from moto.efs.models import efs_backends

        backend = efs_backends[_account_id(environ, access_key)][region]
        fs_id = match.group("fs_id")
        file_system = backend.file_systems_by_id.get(fs_id)
        if file_system is None:
            message = f"File system '{fs_id}' does not exist."
            return _efs_error("FileSystemNotFound", message, 404)
        try:
            body = _read_json_body(environ) if method in ("POST", "PUT") else {}
        except ValueError as exc:
            return _efs_error("BadRequest", f"Invalid JSON body: {exc}", 400)
        return handler(backend, file_system, body)
    return None


def _efs_describe_tags(
    backend: EFSBackend, file_system: FileSystem, _body: dict[str, Any]
) -> Response:
    # Same store as ListTagsForResource; EFS caps tags at 50, so one page is enough.
    return _json_response({"Tags": backend.list_tags_for_resource(file_system.file_system_id)})


def _efs_create_tags(
    backend: EFSBackend, file_system: FileSystem, body: dict[str, Any]
) -> Response:
    tags = {tag["Key"]: tag.get("Value", "") for tag in body.get("Tags") or []}
    backend.tag_resource(file_system.file_system_arn, tags)
    return Response(status=204)


def _efs_delete_tags(
    backend: EFSBackend, file_system: FileSystem, body: dict[str, Any]
) -> Response:
    backend.untag_resource(file_system.file_system_arn, list(body.get("TagKeys") or []))
    return Response(status=204)


def _efs_put_backup_policy(
    _backend: EFSBackend, file_system: FileSystem, body: dict[str, Any]
) -> Response:
    status = (body.get("BackupPolicy") or {}).get("Status")
    if status not in ("ENABLED", "DISABLED"):
        return _efs_error("BadRequest", "BackupPolicy.Status must be ENABLED or DISABLED.", 400)
    # moto's FileSystem.backup_policy reads _backup; DescribeBackupPolicy then answers itself.
    file_system._backup = status == "ENABLED"
    setattr(file_system, _BACKUP_STATUS_ATTR, status)
    return _json_response({"BackupPolicy": {"Status": status}})


def _efs_describe_backup_policy(
    _backend: EFSBackend, file_system: FileSystem, _body: dict[str, Any]
) -> Response | None:
    # moto reports a disabled policy as PolicyNotFound; after an explicit
    # PutBackupPolicy DISABLED, AWS reports the status, so we do too.
    if getattr(file_system, _BACKUP_STATUS_ATTR, None) == "DISABLED" and not file_system._backup:
        return _json_response({"BackupPolicy": {"Status": "DISABLED"}})
    return None


def _budgets_error(code: str, message: str) -> Response:
    response = _json_response({"__type": code, "Message": message}, 400)
    response.headers["x-amzn-ErrorType"] = code
    return response


def _budgets_addon(environ: WSGIEnvironment, access_key: str) -> Response | None:
    """Serve UpdateBudget and DescribeSubscribersForNotification (AWS Budgets API reference)
    on moto's budgets; None lets every other budgets request through to moto."""
    operation = str(environ.get("HTTP_X_AMZ_TARGET", "")).rpartition(".")[2]
    if operation not in ("UpdateBudget", "DescribeSubscribersForNotification"):
        return None
    from moto.budgets.models import budgets_backends

    try:
        body = _read_json_body(environ)
    except ValueError as exc:
        return _budgets_error("InvalidParameterException", f"Invalid JSON body: {exc}")
    backend = budgets_backends[_account_id(environ, access_key)]["aws"]
    budgets = backend.budgets[str(body.get("AccountId", ""))]
    if operation == "UpdateBudget":
        new = dict(body.get("NewBudget") or {})
        budget = budgets.get(str(new.get("BudgetName", "")))
        if budget is None:
            return _budgets_error("NotFoundException", "Unable to update budget: not found")
        # UpdateBudget replaces the budget; AWS keeps its spend and time period.
        for kept in ("CalculatedSpend", "TimePeriod"):
            if kept in budget.budget and kept not in new:
                new[kept] = budget.budget[kept]
        new["LastUpdatedTime"] = time.time()
        budget.budget = new
        return _json_response({})
    budget = budgets.get(str(body.get("BudgetName", "")))
    wanted = body.get("Notification") or {}
    key = ("NotificationType", "ComparisonOperator", "Threshold")
    found = [
        n
        for n in (budget.notifications if budget else [])
        if all(n.details.get(k) == wanted.get(k) for k in key)
        and n.details.get("ThresholdType", "PERCENTAGE")
        == wanted.get("ThresholdType", "PERCENTAGE")
    ]
    if not found:
        return _budgets_error("NotFoundException", "Unable to find the notification")
    return _json_response({"Subscribers": found[0].subscribers})


def _backup_error(code: str, message: str, status: int = 400) -> Response:
    response = _json_response({"Code": code, "Message": message}, status)
    response.headers["x-amzn-ErrorType"] = code
    return response


class _BackupJobs:
    """AWS Backup's recovery points and restore jobs, as far as restore_home.yml needs them
    (AWS Backup API reference: StartBackupJob, ListRecoveryPointsByResource, StartRestoreJob,
    DescribeRestoreJob). Process-wide, like moto's state."""

    def __init__(self) -> None:
        self.points: dict[str, dict[str, Any]] = {}
        self.restores: dict[str, dict[str, Any]] = {}

    def reset(self) -> None:
        self.points.clear()
        self.restores.clear()

    def serve(self, environ: WSGIEnvironment, account: str, region: str) -> Response | None:
        method = environ.get("REQUEST_METHOD", "GET")
        path = urllib.parse.unquote(environ.get("PATH_INFO", ""))
        try:
            body = _read_json_body(environ) if method == "PUT" else {}
        except ValueError as exc:
            return _backup_error("InvalidParameterValueException", f"Invalid JSON body: {exc}")
        if method == "PUT" and path == "/backup-jobs":
            point = f"arn:aws:backup:{region}:{account}:recovery-point:{uuid.uuid4()}"
            self.points[point] = {
                "RecoveryPointArn": point,
                "ResourceArn": body.get("ResourceArn", ""),
                "BackupVaultName": body.get("BackupVaultName", ""),
                "CreationDate": time.time(),
                "Status": "COMPLETED",
            }
            return _json_response({"BackupJobId": uuid.uuid4().hex, "RecoveryPointArn": point})
        if (
            method == "GET"
            and path.startswith("/resources/")
            and path.endswith("/recovery-points/")
        ):
            resource = path.removeprefix("/resources/").removesuffix("/recovery-points/")
            found = [
                {k: v for k, v in p.items() if k != "ResourceArn"}
                for p in self.points.values()
                if p["ResourceArn"] == resource
            ]
            return _json_response({"RecoveryPoints": found})
        if method == "PUT" and path == "/restore-jobs":
            point = self.points.get(str(body.get("RecoveryPointArn", "")))
            if point is None:
                return _backup_error(
                    "ResourceNotFoundException", "Recovery point not found", status=404
                )
            if not str(body.get("IamRoleArn", "")).startswith(f"arn:aws:iam::{account}:role/"):
                return _backup_error("InvalidParameterValueException", "IamRoleArn is not a role")
            job = uuid.uuid4().hex.upper()
            self.restores[job] = {
                "AccountId": account,
                "RestoreJobId": job,
                "RecoveryPointArn": point["RecoveryPointArn"],
                "IamRoleArn": body["IamRoleArn"],
                "Metadata": body.get("Metadata", {}),
                "CreationDate": time.time(),
                "CompletionDate": time.time(),
                "Status": "COMPLETED",
                "ResourceType": body.get("ResourceType", "EFS"),
                "CreatedResourceArn": point["ResourceArn"],
            }
            return _json_response({"RestoreJobId": job})
        if method == "GET" and path.startswith("/restore-jobs/"):
            job = self.restores.get(path.removeprefix("/restore-jobs/"))
            if job is None:
                return _backup_error("ResourceNotFoundException", "Restore job not found", 404)
            return _json_response({k: v for k, v in job.items() if k != "Metadata"})
        return None


BACKUP_JOBS = _BackupJobs()


class _CostAllocationTags:
    """Cost Explorer's cost allocation tags (API reference: ListCostAllocationTags,
    UpdateCostAllocationTagsStatus): the user-defined tag keys on the emulator's resources, each
    Inactive until activated. Process-wide, like moto's state."""

    def __init__(self) -> None:
        self.active: dict[str, set[str]] = {}

    def reset(self) -> None:
        self.active.clear()

    def serve(self, environ: WSGIEnvironment, account: str, region: str) -> Response | None:
        operation = str(environ.get("HTTP_X_AMZ_TARGET", "")).rpartition(".")[2]
        if operation not in ("ListCostAllocationTags", "UpdateCostAllocationTagsStatus"):
            return None
        from moto.resourcegroupstaggingapi.models import resourcegroupstaggingapi_backends

        try:
            body = _read_json_body(environ)
        except ValueError as exc:
            return _budgets_error("ValidationException", f"Invalid JSON body: {exc}")
        tagging = resourcegroupstaggingapi_backends[account][region]
        seen: set[str] = set()
        token: str | None = None
        while True:
            token, keys = tagging.get_tag_keys(pagination_token=token)
            seen.update(k for k in keys if not k.startswith("aws:"))
            if not token:
                break
        active = self.active.setdefault(account, set())
        if operation == "UpdateCostAllocationTagsStatus":
            errors = []
            for entry in body.get("CostAllocationTagsStatus") or []:
                key, status = str(entry.get("TagKey", "")), entry.get("Status")
                if key not in seen:
                    errors.append({"TagKey": key, "Code": "TagKeyNotFound", "Message": "not found"})
                elif status == "Active":
                    active.add(key)
                else:
                    active.discard(key)
            return _json_response({"Errors": errors})
        wanted = set(body.get("TagKeys") or seen)
        status = body.get("Status")
        tags = [
            {"TagKey": k, "Type": "UserDefined", "Status": "Active" if k in active else "Inactive"}
            for k in sorted(seen & wanted)
        ]
        return _json_response(
            {"CostAllocationTags": [t for t in tags if status in (None, t["Status"])]}
        )


COST_ALLOCATION_TAGS = _CostAllocationTags()


class EmulatorMiddleware:
    """WSGI middleware in front of moto: counts calls, serves our endpoints and add-ons."""

    def __init__(self, app: WSGIApplication, counter: CallCounter) -> None:
        self.app = app
        self.counter = counter

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/_astrohub" or path.startswith("/_astrohub/"):
            return self._own_endpoint(environ)(environ, start_response)
        if path.startswith("/moto-api"):
            if path == "/moto-api/reset":
                BACKUP_JOBS.reset()
                COST_ALLOCATION_TAGS.reset()
            return self.app(environ, start_response)

        self.counter.record(describe_call(environ))
        scope = _credential_scope(environ)
        if scope and scope[2] == "elasticfilesystem":
            response = _efs_addon(environ, access_key=scope[0], region=scope[1])
            if response is not None:
                return response(environ, start_response)
        if scope and scope[2] == "budgets":
            response = _budgets_addon(environ, access_key=scope[0])
            if response is not None:
                return response(environ, start_response)
        if scope and scope[2] == "backup":
            account = _account_id(environ, access_key=scope[0])
            response = BACKUP_JOBS.serve(environ, account, region=scope[1])
            if response is not None:
                return response(environ, start_response)
        if scope and scope[2] == "ce":
            account = _account_id(environ, access_key=scope[0])
            response = COST_ALLOCATION_TAGS.serve(environ, account, region=scope[1])
            if response is not None:
                return response(environ, start_response)
        return self.app(environ, start_response)

    def _own_endpoint(self, environ: WSGIEnvironment) -> Response:
        path = environ.get("PATH_INFO", "").rstrip("/")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == _CALLS_PATH and method == "GET":
            calls = self.counter.snapshot()
            return _json_response({"total": calls.total(), "calls": dict(sorted(calls.items()))})
        if path == _CALLS_RESET_PATH and method == "POST":
            self.counter.clear()
            return _json_response({"status": "ok"})
        if path in (_CALLS_PATH, _CALLS_RESET_PATH):
            return _json_response({"error": "method not allowed"}, 405)
        return _json_response({"error": "not found"}, 404)


class _QuietRequestHandler(MotoRequestHandler):
    """Moto's request handler without a log line per request (errors are still logged)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def _local_request(port: int, method: str, path: str, timeout: float) -> tuple[int, bytes]:
    # Plain http.client: it ignores *_PROXY, so loopback traffic never goes via a proxy.
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class Emulator:
    """A moto server on 127.0.0.1 in a background thread, with call counting.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.
    ``port=0`` lets the OS pick a free port; :attr:`url` tells which.
    """

    def __init__(self, port: int = 0, *, verbose: bool = False) -> None:
        self._requested_port = port
        self._verbose = verbose
        self._counter = CallCounter()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("emulator is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> Emulator:
        """Bind, serve in a daemon thread, and return once requests are answered."""
        if self._server is not None:
            raise RuntimeError("emulator is already running")
        align_ec2_tag_resource_types()
        filter_nat_gateways_by_tag()
        evaluate_policy_conditions_like_aws()
        # Built the way moto.server / ThreadedMotoServer build theirs.
        moto_app = DomainDispatcherApplication(create_backend_app)
        app = EmulatorMiddleware(moto_app, self._counter)
        handler = MotoRequestHandler if self._verbose else _QuietRequestHandler
        # Bind here rather than in the thread, so a busy port raises in the caller.
        server = make_server(
            HOST, self._requested_port, app, threaded=True, request_handler=handler
        )
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            # shutdown() waits up to one poll interval; keep stop() quick.
            kwargs={"poll_interval": 0.05},
            name=f"aws-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        try:
            self._wait_until_serving()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        delay = 0.01
        while True:
            try:
                if _local_request(self.port, "GET", _CALLS_PATH, timeout=2)[0] == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() >= deadline:
                raise TimeoutError(f"AWS emulator at {self.url} did not answer in time")
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        if thread is not None and thread.is_alive():
            # shutdown() waits for serve_forever(), so only ask a running thread.
            server.shutdown()
            thread.join(timeout=STOP_TIMEOUT_SECONDS)
        server.server_close()

    def calls(self) -> Counter[str]:
        """A copy of the AWS API calls seen since the last reset, by ``service:Action``."""
        return self._counter.snapshot()

    def reset_calls(self) -> None:
        self._counter.clear()

    def reset(self) -> None:
        """Wipe all moto state (process-wide) and this emulator's call counts."""
        status, body = _local_request(self.port, "POST", "/moto-api/reset", timeout=30)
        if status != 200:
            raise RuntimeError(f"moto reset failed: HTTP {status}: {body[:200]!r}")
        self.reset_calls()


class EmulatorProcess:
    """The emulator in a process of its own (``python -m astrohub_local.emulator``): moto's state is
    process-wide, so this is how tests get a deployment nobody else resets. Same interface as
    :class:`Emulator`, over its HTTP endpoints."""

    def __init__(self, state_dir: Path) -> None:
        self._state_dir = Path(state_dir)
        self._process: subprocess.Popen[bytes] | None = None
        self._url = ""

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return self._url

    @property
    def port(self) -> int:
        return int(self._url.rsplit(":", 1)[1])

    def start(self) -> EmulatorProcess:
        self._state_dir.mkdir(parents=True, exist_ok=True)
        url_file = self._state_dir / "emulator.url"
        url_file.unlink(missing_ok=True)
        with (self._state_dir / "emulator.log").open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "astrohub_local.emulator", "--url-file", str(url_file)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        log_path = self._state_dir / "emulator.log"
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not url_file.is_file():
            exited = self._process.poll()
            if exited is not None or time.monotonic() > deadline:
                self.stop()
                why = f"exited with {exited}" if exited is not None else "timed out"
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the emulator did not start ({why}); {log_path} ends:\n{tail}")
            time.sleep(0.05)
        self._url = url_file.read_text().strip()
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def calls(self) -> Counter[str]:
        status, body = _local_request(self.port, "GET", _CALLS_PATH, timeout=30)
        if status != 200:
            raise RuntimeError(f"reading the call counts failed: HTTP {status}")
        return Counter(json.loads(body)["calls"])

    def reset_calls(self) -> None:
        _local_request(self.port, "POST", _CALLS_RESET_PATH, timeout=30)

    def reset(self) -> None:
        status, body = _local_request(self.port, "POST", "/moto-api/reset", timeout=30)
        if status != 200:
            raise RuntimeError(f"moto reset failed: HTTP {status}: {body[:200]!r}")
        self.reset_calls()


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m astrohub_local.emulator",
        description="Local AWS emulator (moto) on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    parser.add_argument("--url-file", type=Path, help="write the URL here once serving")
    parser.add_argument("--pid-file", type=Path, help="write this process's id here")
    args = parser.parse_args(argv)

    emulator = Emulator(args.port)

    def start() -> str:
        emulator.start()
        # moto builds URLs back to itself (e.g. for Lambda) from MOTO_PORT.
        os.environ.setdefault("MOTO_PORT", str(emulator.port))
        return emulator.url

    serve_until_signalled(
        start,
        emulator.stop,
        banner="AWS emulator listening on {url}",
        url_file=args.url_file,
        pid_file=args.pid_file,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
