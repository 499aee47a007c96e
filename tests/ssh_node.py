"""A CI node on loopback: Debian's OpenSSH server on 127.0.0.1, a non-root login user with
passwordless sudo (as ec2-user has on Amazon Linux), and a stand-in for cloud-init that, once the
emulator shows the deployment's CI node running, authorizes the public key of the key pair that
instance was started with (what EC2 does at first boot). The playbooks reach it only through
what they find in AWS by tag and the address settings of the inventory."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3

from astrohub.unprivileged import scratch_dir

SSHD = "/usr/sbin/sshd"
USER = "astrohub-ci-test"
SUDOERS = Path("/etc/sudoers.d") / USER
POLL = 0.2


@dataclass
class SshNode:
    """What an inventory needs to reach the node, and what the tests look at."""

    port: int
    user: str
    home: Path
    root: Path
    log: Path
    authorized_keys: Path

    def accepted_keys(self) -> list[str]:
        """Fingerprints sshd accepted a login with, from its log."""
        lines = self.log.read_text(errors="replace").splitlines()
        return [line.rsplit(" ", 1)[-1] for line in lines if "Accepted publickey" in line]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def _login_user() -> Iterator[Path]:
    """A user with a home, no password (not locked) and passwordless sudo; removed after."""
    _remove_user()
    subprocess.run(
        ["useradd", "--create-home", "--shell", "/bin/bash", "--password", "*", USER], check=True
    )
    SUDOERS.write_text(f"{USER} ALL=(ALL) NOPASSWD:ALL\n")
    SUDOERS.chmod(0o440)
    try:
        yield Path(pwd.getpwnam(USER).pw_dir)
    finally:
        SUDOERS.unlink(missing_ok=True)
        _remove_user()


def _remove_user() -> None:
    """The test user and whatever still runs as it (SSH sessions Ansible keeps open)."""
    subprocess.run(["pkill", "--uid", USER], capture_output=True, check=False)
    subprocess.run(["userdel", "--force", "--remove", USER], capture_output=True, check=False)


def _authorize_launched_key(
    endpoint: str, instance_name: str, keys_file: Path, stop: threading.Event
) -> None:
    """cloud-init's part: the key pair the running instance names goes into authorized_keys."""
    ec2 = boto3.client(
        "ec2",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    written = ""
    while not stop.wait(POLL):
        with contextlib.suppress(Exception):
            reservations = ec2.describe_instances(
                Filters=[
                    {"Name": "tag:Name", "Values": [instance_name]},
                    {"Name": "instance-state-name", "Values": ["running"]},
                ]
            )["Reservations"]
            names = [i.get("KeyName") for r in reservations for i in r["Instances"]]
            key = ""
            if names and names[0]:
                pairs = ec2.describe_key_pairs(KeyNames=[names[0]], IncludePublicKey=True)
                key = pairs["KeyPairs"][0]["PublicKey"].strip()
            if key != written:
                keys_file.write_text(key + "\n" if key else "")
                written = key


@contextlib.contextmanager
def ssh_node(endpoint: str, instance_name: str) -> Iterator[SshNode]:
    """The node, for the deployment whose CI node is tagged Name=``instance_name``."""
    if os.geteuid() != 0:
        raise RuntimeError("the SSH node needs root: it adds a user and starts sshd")
    if not Path(SSHD).exists():
        raise RuntimeError(f"{SSHD} is missing: make system-deps installs openssh-server")
    root = scratch_dir("ssh-node-")
    host_key = root / "ssh_host_ed25519_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key)], check=True)
    keys = root / "authorized_keys"
    keys.write_text("")
    keys.chmod(0o644)
    port = _free_port()
    config = root / "sshd_config"
    config.write_text(
        f"Port {port}\n"
        "ListenAddress 127.0.0.1\n"
        f"HostKey {host_key}\n"
        f"PidFile {root / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {keys}\n"
        f"AllowUsers {USER}\n"
        "PubkeyAuthentication yes\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UsePAM no\n"
        "StrictModes no\n"
        "LogLevel VERBOSE\n"
    )
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
    log = root / "sshd.log"
    stop = threading.Event()
    with _login_user() as home:
        sshd = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stderr=log.open("wb"))
        watcher = threading.Thread(
            target=_authorize_launched_key, args=(endpoint, instance_name, keys, stop), daemon=True
        )
        watcher.start()
        try:
            deadline = time.monotonic() + 30
            while True:
                with socket.socket() as probe:
                    if probe.connect_ex(("127.0.0.1", port)) == 0:
                        break
                if sshd.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"sshd did not start:\n{log.read_text()}")
                time.sleep(POLL)
            yield SshNode(port, USER, home, root, log, keys)
        finally:
            stop.set()
            watcher.join(timeout=5)
            sshd.terminate()
            sshd.wait(timeout=10)
            shutil.rmtree(root, ignore_errors=True)
