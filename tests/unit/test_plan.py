"""Plan mode's written chart: stable across renders, no generated secret in it."""

from __future__ import annotations

from astrohub.plan import REDACTED, redact_generated

RENDERED = """# Source: jupyterhub/templates/hub/secret.yaml
kind: Secret
apiVersion: v1
metadata:
  name: hub
data:
  hub.config.JupyterHub.cookie_secret: "c2VjcmV0"
---
# Source: jupyterhub/templates/hub/deployment.yaml
kind: Deployment
apiVersion: apps/v1
metadata:
  name: hub
spec:
  template:
    metadata:
      annotations:
        checksum/secret: 92a5
        other: kept
---
# Source: jupyterhub/templates/hub/service.yaml
kind: Service
apiVersion: v1
metadata:
  name: hub"""


def test_generated_values_are_redacted_and_the_rest_kept() -> None:
    out = redact_generated(RENDERED)
    assert "c2VjcmV0" not in out and "92a5" not in out
    assert out.count(REDACTED) == 2
    assert "other: kept" in out
    assert out.count("# Source:") == 3
    assert out.split("\n---\n")[2] == RENDERED.split("\n---\n")[2]  # untouched verbatim


def test_two_renders_with_different_generated_secrets_give_the_same_plan() -> None:
    other = RENDERED.replace("c2VjcmV0", "b3RoZXI=").replace("92a5", "bcf1")
    assert redact_generated(RENDERED) == redact_generated(other)
