"""Redis beyond one server, for real, on loopback: a Cluster of masters with a
replica each, and a master with a replica watched by three Sentinels.

Each server is a ``redis-server`` subprocess on a free port that saves
nothing; the cluster is formed with ``redis-cli --cluster create`` as an
operator would. Both are shared by the tests and the benchmark.
"""

import shutil
import signal
import subprocess
import time
from pathlib import Path

import redis
from redis.crc import key_slot

from harness.processes import ServerProcess, free_port, free_ports

# How long a silent node goes before the others count it failed and its
# replica takes over. Redis's default is 15 s; the tests want a failover they
# can wait for.
NODE_TIMEOUT_MS = 1000
READY_SECONDS = 30


def redis_binary(name="redis-server"):
    binary = shutil.which(name)
    if binary is None:
        raise RuntimeError(f"{name} is not installed: run scripts/test")
    return binary


def start_server(log_dir, *options, port=None, cores=None):
    """One redis-server; what a replica receives from its master is written
    to ``log_dir``, under a name of its own, never to the checkout."""
    port = port or free_port()
    args = [
        redis_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(log_dir),
        "--dbfilename",
        f"redis-{port}.rdb",
        *options,
    ]
    return ServerProcess(
        args,
        port,
        log_path=Path(log_dir) / f"redis-{port}.log",
        name="redis-server",
        cores=cores,
    )


def sigkill(server):
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()


def wait_for(condition, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{what} within {seconds} s")


class Cluster:
    """``masters`` masters with ``replicas`` replicas each, slots split evenly;
    ``cores`` pins every node (the benchmark's)."""

    def __init__(self, log_dir, masters=3, replicas=1, cores=None):
        self.dir = Path(log_dir) / f"cluster-{free_port()}"
        self.dir.mkdir(parents=True)
        self.nodes = []
        count = masters * (1 + replicas)
        ports = free_ports(2 * count)
        try:
            for port, bus in zip(ports[:count], ports[count:], strict=True):
                self.nodes.append(
                    start_server(
                        self.dir,
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        str(self.dir / f"nodes-{port}.conf"),
                        "--cluster-node-timeout",
                        str(NODE_TIMEOUT_MS),
                        # The bus would be port + 10,000, which a free port
                        # above 55,535 cannot have.
                        "--cluster-port",
                        str(bus),
                        # A replica may take over however long ago it last
                        # heard from its master, as in a test that kills a
                        # master moments after the cluster formed.
                        "--cluster-replica-validity-factor",
                        "0",
                        port=port,
                        cores=cores,
                    )
                )
            created = subprocess.run(
                [
                    redis_binary("redis-cli"),
                    "--cluster",
                    "create",
                    *(f"127.0.0.1:{node.port}" for node in self.nodes),
                    "--cluster-replicas",
                    str(replicas),
                    "--cluster-yes",
                ],
                capture_output=True,
                text=True,
                timeout=READY_SECONDS,
            )
            if created.returncode != 0:
                raise RuntimeError(f"redis-cli --cluster create: {created.stdout}")
            self.wait_until_ready()
        except BaseException:
            self.stop()
            raise

    @property
    def url(self):
        """The REDIS_URL naming this cluster, with its first node as the seed."""
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}/"

    def cpu_seconds(self):
        """CPU time of every node, for the benchmark's Redis CPU figures."""
        return sum(node.cpu_seconds() for node in self.alive())

    def client(self, node):
        return redis.Redis(port=node.port, socket_timeout=2)

    def alive(self):
        return [node for node in self.nodes if node.process.poll() is None]

    def masters(self):
        """The live nodes that are masters now, as ``{port: node}``."""
        found = {}
        for node in self.alive():
            role = self.client(node).execute_command("ROLE")[0]
            if role == b"master":
                found[node.port] = node
        return found

    def slot_owner(self, slot):
        """The port of the master serving ``slot``, as the cluster says now."""
        for start, end, master, *_ in self.client(self.alive()[0]).cluster("slots"):
            if start <= slot <= end:
                return int(master[1])
        return None

    def wait_until_ready(self, seconds=READY_SECONDS):
        """Every live node says the cluster is ok, with every slot served, and
        every replica is in sync with its master."""

        def ready():
            for node in self.alive():
                client = self.client(node)
                info = client.cluster("info")
                if info["cluster_state"] != "ok" or info["cluster_slots_ok"] != "16384":
                    return False
                replication = client.info("replication")
                if replication["role"] == "slave" and (
                    replication["master_link_status"] != "up"
                ):
                    return False
            return True

        wait_for(ready, seconds, "the cluster was not ready")

    def kill_master_serving(self, key):
        """SIGKILL the master that holds ``key``; returns its port."""
        port = self.slot_owner(key_slot(key.encode()))
        sigkill(self.masters()[port])
        return port

    def stop(self):
        for node in self.nodes:
            node.stop()


class Sentinels:
    """A master, its replica, and three Sentinels watching them as ``name``."""

    NAME = "echo-master"
    DOWN_AFTER_MS = 1000

    def __init__(self, log_dir, count=3):
        self.dir = Path(log_dir) / f"sentinel-{free_port()}"
        self.dir.mkdir(parents=True)
        self.sentinels = []
        self.replica = None
        self.master = start_server(self.dir)
        try:
            self.replica = start_server(
                self.dir, "--replicaof", "127.0.0.1", str(self.master.port)
            )
            wait_for(
                lambda: (
                    redis.Redis(port=self.replica.port).info("replication")[
                        "master_link_status"
                    ]
                    == "up"
                ),
                READY_SECONDS,
                "the replica did not sync",
            )
            for _ in range(count):
                port = free_port()
                config = self.dir / f"sentinel-{port}.conf"
                config.write_text(
                    f"port {port}\nbind 127.0.0.1\n"
                    f"sentinel monitor {self.NAME} 127.0.0.1 {self.master.port} 2\n"
                    f"sentinel down-after-milliseconds {self.NAME} "
                    f"{self.DOWN_AFTER_MS}\n"
                    f"sentinel failover-timeout {self.NAME} 10000\n"
                )
                self.sentinels.append(
                    ServerProcess(
                        [redis_binary(), str(config), "--sentinel"],
                        port,
                        log_path=self.dir / f"sentinel-{port}.log",
                        name="redis-sentinel",
                    )
                )
            wait_for(self.all_watching, READY_SECONDS, "the Sentinels did not agree")
        except BaseException:
            self.stop()
            raise

    def all_watching(self):
        """Every Sentinel knows the replica and the other Sentinels."""
        for sentinel in self.sentinels:
            state = redis.Redis(port=sentinel.port).sentinel_master(self.NAME)
            if state["num-slaves"] < 1 or state["num-other-sentinels"] < 2:
                return False
        return True

    @property
    def url(self):
        ports = ",".join(f"127.0.0.1:{sentinel.port}" for sentinel in self.sentinels)
        return f"sentinel://{ports}/{self.NAME}/0"

    def kill_master(self):
        """SIGKILL the master; returns its port."""
        sigkill(self.master)
        return self.master.port

    def stop(self):
        for server in [*self.sentinels, self.replica, self.master]:
            if server is not None:
                server.stop()
