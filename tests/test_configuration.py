"""Settings read from the environment: defaults, parsing, and loud failures."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from project import environment
from project.channel_layers import channel_layers, redis_host

LAYER_LIMITS = {
    "capacity": 100,
    "expiry": 60,
    "group_expiry": 86400,
    "membership_ttl": 30,
}
POOL = {"max_connections": 1000, "socket_timeout": 5}


def test_no_redis_url_means_the_process_layer_with_the_channel_capacity():
    assert channel_layers("", **LAYER_LIMITS)["default"] == {
        "BACKEND": "server.extensions.layers.process.ProcessChannelLayer",
        "CONFIG": {"capacity": 100},
    }


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "rediss://user:pw@cache.example:6380/1"]
)
def test_redis_urls_go_to_the_inbox_layer_as_addresses(url):
    layer = channel_layers(url, **LAYER_LIMITS)["default"]
    assert (
        layer["BACKEND"]
        == "server.extensions.layers.redis_inbox.RedisInboxChannelLayer"
    )
    assert layer["CONFIG"]["hosts"] == [{"address": url, **POOL}]
    assert layer["CONFIG"]["membership_ttl"] == 30


def test_redis_shards_add_hosts_after_the_first():
    shards = ["redis://b:6379/0", "redis://c:6379/0"]
    layer = channel_layers("redis://a:6379/0", hosts=shards, **LAYER_LIMITS)
    addresses = [host["address"] for host in layer["default"]["CONFIG"]["hosts"]]
    assert addresses == ["redis://a:6379/0", *shards]


def test_core_layer_waits_longer_for_its_reads_than_its_blocking_pop():
    layer = channel_layers("redis://h:6379/0", flavour="core", **LAYER_LIMITS)
    (host,) = layer["default"]["CONFIG"]["hosts"]
    assert host["socket_timeout"] > 5
    assert "membership_ttl" not in layer["default"]["CONFIG"]


def test_pubsub_layer_is_chosen_by_name_and_takes_no_capacity_or_expiry():
    layer = channel_layers("redis://h:6379/0", flavour="pubsub", **LAYER_LIMITS)
    assert (
        layer["default"]["BACKEND"] == "channels_redis.pubsub.RedisPubSubChannelLayer"
    )
    assert set(layer["default"]["CONFIG"]) == {"hosts", "prefix"}


def test_unknown_layer_name_fails_loudly():
    with pytest.raises(ImproperlyConfigured, match="REDIS_CHANNEL_LAYER"):
        channel_layers("redis://h:6379/0", flavour="fast", **LAYER_LIMITS)


def test_sentinel_url_names_sentinels_master_database_and_password():
    url = "sentinel://:s3cret@10.0.0.1:26379,[::1]:26380/mymaster/2"
    assert redis_host(url, POOL) == {
        "sentinels": [("10.0.0.1", 26379), ("::1", 26380)],
        "master_name": "mymaster",
        "db": 2,
        "password": "s3cret",
        **POOL,
    }


def test_cluster_url_names_its_seed_nodes_and_keeps_credentials():
    url = "rediss+cluster://app:s3cret@10.0.0.1:6379,10.0.0.2:6380/?ssl_cert_reqs=none"
    assert redis_host(url, POOL) == {
        "cluster": "rediss://app:s3cret@10.0.0.1:6379/?ssl_cert_reqs=none",
        "seeds": [("10.0.0.1", 6379), ("10.0.0.2", 6380)],
        **POOL,
    }


def test_cluster_layer_spreads_over_partitions_and_only_with_the_inbox_layer():
    settings = dict(capacity=1, expiry=1, group_expiry=1, membership_ttl=2)
    url = "redis+cluster://10.0.0.1:6379"
    config = channel_layers(url, **settings, cluster_partitions=8)["default"]
    assert config["CONFIG"]["cluster_partitions"] == 8
    with pytest.raises(ImproperlyConfigured, match="REDIS_SHARDS"):
        channel_layers(url, **settings, hosts=["redis://10.0.0.2:6379/0"])
    with pytest.raises(ImproperlyConfigured, match="inbox"):
        channel_layers(url, **settings, flavour="core")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379",
        "sentinel://127.0.0.1:26379",
        "sentinel://h/m",
        "redis+cluster://10.0.0.1:6379/3",
        "redis+cluster://10.0.0.1",
    ],
)
def test_unusable_redis_url_fails_loudly(url):
    with pytest.raises(ImproperlyConfigured):
        redis_host(url, POOL)


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("off", False)])
def test_flag_reads_common_spellings(monkeypatch, value, expected):
    monkeypatch.setenv("SOME_FLAG", value)
    assert environment.flag("SOME_FLAG") is expected


def test_flag_refuses_a_word_it_cannot_read(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG"):
        environment.flag("SOME_FLAG")


def test_integer_refuses_text_and_values_below_its_minimum(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", "lots")
    with pytest.raises(ImproperlyConfigured):
        environment.integer("SOME_NUMBER", 1)
    monkeypatch.setenv("SOME_NUMBER", "0")
    with pytest.raises(ImproperlyConfigured):
        environment.integer("SOME_NUMBER", 1, minimum=1)


def test_words_splits_on_commas_and_drops_blanks(monkeypatch):
    monkeypatch.setenv("SOME_HOSTS", " a.example, ,b.example ")
    assert environment.words("SOME_HOSTS", "") == ["a.example", "b.example"]
