"""Bad configurations and the message each must produce, shared by the unit tests of the
validator and the integration tests that run the real playbook against the emulator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PRIVATE_KEY_MARKER = "-----BEGIN OPENSSH PRIVATE KEY-----"


@dataclass(frozen=True)
class BadConfig:
    id: str
    settings: dict[str, Any]
    message: str  # a fragment the preflight's message must contain


BAD_CONFIGS = [
    BadConfig(
        "namespace-not-dns-label",
        {"deployment_namespace": "Bad_Name"},
        "deployment_namespace: expected a DNS label",
    ),
    BadConfig(
        "namespace-too-long",
        {"deployment_namespace": "a" * 21},
        "deployment_namespace: expected a DNS label",
    ),
    BadConfig(
        "namespace-like-a-cluster-generation",
        {"deployment_namespace": "astro-g2"},
        "deployment_namespace: expected a DNS label",
    ),
    BadConfig(
        "region-unknown",
        {"aws_region": "us-east-7"},
        "aws_region: 'us-east-7' is not a known AWS region (did you mean",
    ),
    BadConfig("region-wrong-type", {"aws_region": 42}, "aws_region: expected an AWS region name"),
    BadConfig(
        "renamed-key", {"namespace": "astrohub"}, "namespace: renamed to deployment_namespace"
    ),
    BadConfig(
        "typo-key",
        {"netwrk_az_count": 2},
        "netwrk_az_count: unknown setting (did you mean 'network_az_count'?)",
    ),
    BadConfig(
        "az-count-zero",
        {"network_az_count": 0},
        "network_az_count: expected an integer from 1 to 6",
    ),
    BadConfig(
        "az-count-string",
        {"network_az_count": "three"},
        "network_az_count: expected an integer from 1 to 6",
    ),
    BadConfig(
        "vpc-cidr-invalid",
        {"network_vpc_cidr": "10.42.0.0/33"},
        "network_vpc_cidr: '10.42.0.0/33' is not an IPv4 CIDR block",
    ),
    BadConfig(
        "vpc-cidr-too-small",
        {"network_vpc_cidr": "10.42.0.0/24"},
        "network_vpc_cidr: '10.42.0.0/24' has prefix /24, outside /16 to /20",
    ),
    BadConfig(
        "vpc-cidr-host-bits", {"network_vpc_cidr": "10.42.1.0/16"}, "with its host bits zero"
    ),
    BadConfig(
        "nat-mode-unknown",
        {"network_nat_gateways": "none"},
        "network_nat_gateways: expected 'single' (one NAT gateway",
    ),
    BadConfig(
        "ssh-cidrs-empty",
        {"ci_node_ssh_allowed_cidrs": []},
        "ci_node_ssh_allowed_cidrs: expected a non-empty list of IPv4 CIDR blocks",
    ),
    BadConfig(
        "ssh-open-to-world",
        {"ci_node_ssh_allowed_cidrs": ["0.0.0.0/0"]},
        "ci_node_ssh_allowed_cidrs[0]: 0.0.0.0/0 would open SSH to the whole internet",
    ),
    BadConfig(
        "ssh-cidrs-not-a-list",
        {"ci_node_ssh_allowed_cidrs": "10.0.0.0/8"},
        "ci_node_ssh_allowed_cidrs: expected a non-empty list",
    ),
    BadConfig(
        "ssh-key-missing",
        {"ci_node_ssh_public_key_file": "/nonexistent/id.pub"},
        "ci_node_ssh_public_key_file: no file at '/nonexistent/id.pub'",
    ),
    BadConfig(
        "ssh-key-is-private",
        {"ci_node_ssh_public_key_file": "{private_key}"},
        "is not an OpenSSH public key (is it the private key?)",
    ),
    BadConfig(
        "instance-type-invalid",
        {"ci_node_instance_type": "big"},
        "ci_node_instance_type: expected an EC2 instance type",
    ),
    BadConfig(
        "root-volume-too-small",
        {"ci_node_root_volume_size": 4},
        "ci_node_root_volume_size: expected the root volume size in GiB, from 8 to 200",
    ),
    BadConfig(
        "auth-provider-unknown",
        {"auth_provider": "gitlab"},
        "auth_provider: expected 'github' or 'mast'",
    ),
    BadConfig(
        "github-secret-missing",
        {"auth_provider": "github", "github_client_secret": ""},
        "github_client_secret: required when auth_provider is 'github'",
    ),
    BadConfig(
        "mast-secret-empty",
        {"mast_client_secret": ""},
        "mast_client_secret: required when auth_provider is 'mast'",
    ),
    BadConfig(
        "secret-wrong-type-hidden",
        {"mast_client_secret": 987654321},
        "mast_client_secret: expected the MAST OAuth client secret (vault_mast_client_secret "
        "in the vault); got <hidden>",
    ),
    BadConfig(
        "bucket-name-invalid",
        {"state_store_bucket": "Bad..Bucket"},
        "state_store_bucket: 'Bad..Bucket' is not a valid S3 bucket name",
    ),
    BadConfig(
        "ia-days-invalid",
        {"efs_home_transition_to_ia_days": 45},
        "efs_home_transition_to_ia_days: expected days after which idle files move",
    ),
    BadConfig(
        "alarm-action-not-an-sns-arn",
        {"efs_home_alarm_actions": ["oncall@example.org"]},
        "efs_home_alarm_actions[0]: expected ARNs of SNS topics",
    ),
    BadConfig(
        "throughput-mode-unknown",
        {"efs_home_throughput_mode": "elastic"},
        "efs_home_throughput_mode: expected 'bursting' or 'provisioned'",
    ),
    BadConfig(
        "endpoint-not-loopback",
        {"aws_endpoint_url": "https://ec2.us-east-1.amazonaws.com"},
        "aws_endpoint_url: this inventory runs only against the local AWS emulator",
    ),
    BadConfig(
        "extra-tag-reserved-prefix",
        {"aws_extra_tags": {"aws:owner": "me"}},
        "aws_extra_tags: expected a mapping of extra tag keys",
    ),
    BadConfig(
        "plan-only-not-bool", {"plan_only": "sometimes"}, "plan_only: expected true or false"
    ),
    BadConfig(
        "no-allow-rule-github",
        {"auth_provider": "github", "github_allowed_organizations": [], "github_allowed_users": []},
        "github_allowed_organizations: nobody could log in",
    ),
    BadConfig(
        "no-allow-rule-mast",
        {"auth_provider": "mast", "mast_allowed_users": [], "mast_allowed_email_domains": []},
        "mast_allowed_users: nobody could log in",
    ),
    BadConfig(
        "open-public-hub",
        {"allow_all": True, "aws_endpoint_must_be_loopback": False},
        "allow_all: lets every GitHub or MAST account use this public hub",
    ),
    BadConfig(
        "plain-http",
        {"https_mode": "none", "allow_insecure_http": False},
        "https_mode: 'none' serves logins and tokens over plain HTTP",
    ),
    BadConfig(
        "dummy-auth-on-aws",
        {"auth_provider": "dummy", "aws_endpoint_must_be_loopback": False},
        "auth_provider: 'dummy' lets anyone with a password in",
    ),
    BadConfig(
        "acm-without-certificate",
        {"https_mode": "acm", "https_acm_certificate_arn": ""},
        "https_acm_certificate_arn: required when https_mode is 'acm'",
    ),
    BadConfig(
        "budget-without-emails",
        {"budget_monthly_usd": 500},
        "budget_alert_emails: required when budget_monthly_usd is set",
    ),
    BadConfig(
        "budget-negative",
        {"budget_monthly_usd": -5},
        "budget_monthly_usd: expected the monthly limit",
    ),
    BadConfig(
        "budget-email-invalid",
        {"budget_monthly_usd": 500, "budget_alert_emails": ["ops at example.org"]},
        "budget_alert_emails[0]: expected e-mail addresses",
    ),
    BadConfig(
        "ssh-port-out-of-range",
        {"ci_node_ssh_port": 70000},
        "ci_node_ssh_port: expected the TCP port of the CI node's SSH, 1-65535",
    ),
    BadConfig(
        "kubernetes-too-old",
        {"kubernetes_version": "1.30.4"},
        "kubernetes_version: expected a Kubernetes version kops 1.36 supports",
    ),
    BadConfig(
        "kops-other-minor",
        {"kops_version": "1.35.0"},
        "kops_version: expected a kops 1.36 release",
    ),
    BadConfig(
        "control-plane-two",
        {"kops_cluster_control_plane_count": 2},
        "kops_cluster_control_plane_count: expected 1 or 3 control-plane nodes",
    ),
    BadConfig(
        "start-timeout-too-short",
        {"jupyterhub_start_timeout": 60},
        "jupyterhub_start_timeout: expected seconds a user's server may take to start",
    ),
    BadConfig(
        "placeholders-too-many",
        {"jupyterhub_user_placeholders": 50},
        "jupyterhub_user_placeholders: expected the number of user placeholder pods",
    ),
    BadConfig(
        "spot-not-boolean",
        {"kops_cluster_users_spot": "sometimes"},
        "kops_cluster_users_spot: expected true to run user nodes on spot instances",
    ),
    BadConfig(
        "sync-schedule-not-cron",
        {"crds_shared_cache_sync_schedule": "daily"},
        "crds_shared_cache_sync_schedule: expected a cron schedule of five fields",
    ),
    BadConfig(
        "release-not-dns-label",
        {"jupyterhub_release": "Hub_1"},
        "jupyterhub_release: expected a Helm release name",
    ),
    BadConfig(
        "helm-sha256-short",
        {"helm_sha256": "abc123"},
        "helm_sha256: expected the 64-hex-digit sha256",
    ),
]
