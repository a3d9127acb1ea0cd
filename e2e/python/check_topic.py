#!/usr/bin/env python3
"""Independent non-Go consumer for the finflow end-to-end suite.

Reads every record of the topic with confluent-kafka (librdkafka), decodes each
valid one with confluent-kafka's ProtobufDeserializer into message classes
generated at run time from proto/finflow/v1/transaction.proto (grpc_tools.protoc,
into a temporary directory), and compares a random sample with PostgreSQL.
This proves that what the Go producer writes is the Confluent wire format
(magic byte, schema id, message indexes) that other ecosystems read.

It also checks, with SchemaRegistryClient, that the subject's latest schema is
the contract text and that every valid record carries that schema's id.

Apicurio quirk: its Confluent API ignores ?format=serialized and always returns
schema text, while ProtobufDeserializer, when given a registry client, expects
a base64 FileDescriptorProto. So the deserializer is used without the client
(it then decodes with the generated class, parsing the framing and message
indexes itself) and the registry is checked separately.

The Go test passes the coordinates and kinds of the poison records it injected
(--skip); everything else must decode. For each poison kind the summary says how
many the deserializer rejected: the Go test expects the broken framings and the
truncated payloads to be rejected here too; invalid values, unknown ids and the
foreign schema decode, since the deserializer neither validates nor (see above)
asks the registry. The last stdout line is a JSON summary; the exit
status is 0 only when every check passed.
"""

import argparse
import importlib
import json
import os
import random
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from datetime import timezone

import confluent_kafka
from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
import psycopg

PROTO_FILE = "finflow/v1/transaction.proto"


def generate_classes(proto_dir, out_dir):
    """Compile the contract with grpc_tools' bundled protoc; return the module."""
    from grpc_tools import protoc
    import grpc_tools

    wkt = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    rc = protoc.main(["protoc", "-I" + proto_dir, "-I" + wkt, "--python_out=" + out_dir, PROTO_FILE])
    if rc != 0:
        raise SystemExit("protoc failed with status %d" % rc)
    sys.path.insert(0, out_dir)
    return importlib.import_module("finflow.v1.transaction_pb2")


def enum_text(enum_type, value, prefix):
    return enum_type.Name(value)[len(prefix):].lower()


def read_topic(args, deserializer, pb, skip, problems):
    """Consume every partition from its low to its high watermark."""
    consumer = Consumer({
        "bootstrap.servers": args.brokers,
        "group.id": "finflow-e2e-python-" + uuid.uuid4().hex,  # never committed
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
    })
    try:
        md = consumer.list_topics(args.topic, timeout=30)
        tmd = md.topics.get(args.topic)
        if tmd is None or tmd.error is not None:
            raise SystemExit("topic %s: %s" % (args.topic, tmd.error if tmd else "missing"))
        todo = {}
        assign = []
        for p in sorted(tmd.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(args.topic, p), timeout=30)
            if high > low:
                todo[p] = high
                assign.append(TopicPartition(args.topic, p, low))
        consumer.assign(assign)

        ctx = SerializationContext(args.topic, MessageField.VALUE)
        rng = random.Random(args.seed)
        stats = {"records": 0, "valid": 0, "skipped": 0, "amount_minor": 0}
        poison = {}  # kind -> {"decoded": n, "rejected": n}
        sample = []  # reservoir of (transaction_id, partition, offset, amount_minor, currency, event_time, status)
        schema_ids = {}
        deadline = time.monotonic() + args.timeout
        while todo:
            if time.monotonic() > deadline:
                raise SystemExit("timed out reading %s; partitions left (partition: end offset): %s" % (args.topic, todo))
            for m in consumer.consume(num_messages=10000, timeout=1.0):
                if m.error() is not None:
                    raise KafkaException(m.error())
                p, off = m.partition(), m.offset()
                if p not in todo or off >= todo[p]:
                    continue
                if off + 1 >= todo[p]:
                    del todo[p]
                stats["records"] += 1
                value = m.value()
                kind = skip.get(p, {}).get(off)
                if kind is not None:
                    stats["skipped"] += 1
                    try:
                        deserializer(value, ctx)
                        outcome = "decoded"
                    except Exception:  # noqa: BLE001 - any rejection counts
                        outcome = "rejected"
                    by_kind = poison.setdefault(kind, {"decoded": 0, "rejected": 0})
                    by_kind[outcome] += 1
                    continue
                if len(value) < 6 or value[0] != 0:
                    problems.append("%d/%d: no Confluent header" % (p, off))
                    continue
                schema_id = int.from_bytes(value[1:5], "big")
                schema_ids[schema_id] = schema_ids.get(schema_id, 0) + 1
                try:
                    msg = deserializer(value, ctx)
                except Exception as e:  # noqa: BLE001
                    problems.append("%d/%d: ProtobufDeserializer: %s" % (p, off, e))
                    continue
                if not isinstance(msg, pb.Transaction):
                    problems.append("%d/%d: decoded %s, not finflow.v1.Transaction" % (p, off, type(msg).__name__))
                    continue
                stats["valid"] += 1
                stats["amount_minor"] += msg.amount_minor
                item = (
                    msg.transaction_id, p, off, msg.amount_minor, msg.currency,
                    msg.event_time.ToDatetime(tzinfo=timezone.utc),
                    enum_text(pb.Status, msg.status, "STATUS_"),
                )
                n = stats["valid"]
                if len(sample) < args.sample:
                    sample.append(item)
                else:
                    j = rng.randrange(n)
                    if j < args.sample:
                        sample[j] = item
        stats["poison"] = poison
        return stats, sample, schema_ids
    finally:
        consumer.close()


def compare_sample(args, sample, problems):
    ids = [s[0] for s in sample]
    with psycopg.connect(args.database_url) as conn:
        rows = conn.execute(
            "SELECT transaction_id::text, kafka_partition, kafka_offset, amount, currency, event_time, status"
            " FROM raw_transactions WHERE transaction_id::text = ANY(%s)", (ids,)).fetchall()
    got = {r[0]: r for r in rows}
    for tid, p, off, amount_minor, currency, event_time, status in sample:
        row = got.get(tid)
        if row is None:
            problems.append("%s (%d/%d): not in raw_transactions" % (tid, p, off))
            continue
        _, rp, roff, amount, rcurrency, revent, rstatus = row
        want_amount = Decimal(amount_minor) / 100
        diffs = []
        if (rp, roff) != (p, off):
            diffs.append("coordinates %d/%d != %d/%d" % (rp, roff, p, off))
        if amount != want_amount:
            diffs.append("amount %s != %s" % (amount, want_amount))
        if rcurrency != currency:
            diffs.append("currency %r != %r" % (rcurrency, currency))
        # PostgreSQL keeps microseconds, as does ToDatetime.
        if abs((revent - event_time).total_seconds()) >= 1e-6:
            diffs.append("event_time %s != %s" % (revent.isoformat(), event_time.isoformat()))
        if rstatus != status:
            diffs.append("status %r != %r" % (rstatus, status))
        if diffs:
            problems.append("%s (%d/%d): %s" % (tid, p, off, "; ".join(diffs)))
    return len(sample)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--registry-url", required=True)
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--proto-dir", required=True, help="the repository's proto/ directory")
    ap.add_argument("--skip", required=True, help='JSON file {"<partition>": {"<offset>": "<poison kind>"}}')
    ap.add_argument("--expect-valid", type=int, required=True)
    ap.add_argument("--expect-amount", type=int, required=True, help="sum of amount_minor over valid records")
    ap.add_argument("--sample", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=300)
    args = ap.parse_args()

    problems = []
    with open(args.skip) as f:
        skip = {int(p): {int(o): k for o, k in offs.items()} for p, offs in json.load(f).items()}

    with tempfile.TemporaryDirectory(prefix="finflow-e2e-pb-") as out:
        pb = generate_classes(args.proto_dir, out)

        registry = SchemaRegistryClient({"url": args.registry_url})
        latest = registry.get_latest_version(args.topic + "-value")
        with open(os.path.join(args.proto_dir, PROTO_FILE)) as f:
            contract = f.read()
        if latest.schema.schema_type != "PROTOBUF":
            problems.append("registry: schema type %s, want PROTOBUF" % latest.schema.schema_type)
        if latest.schema.schema_str != contract:
            problems.append("registry: latest %s-value text differs from %s" % (args.topic, PROTO_FILE))
        by_id = registry.get_schema(latest.schema_id)
        if by_id.schema_str != contract:
            problems.append("registry: schema id %d text differs from the contract" % latest.schema_id)

        deserializer = ProtobufDeserializer(pb.Transaction, {"use.deprecated.format": False})
        t0 = time.monotonic()
        stats, sample, schema_ids = read_topic(args, deserializer, pb, skip, problems)
        elapsed = time.monotonic() - t0

    for sid, n in sorted(schema_ids.items()):
        if sid != latest.schema_id:
            problems.append("%d valid records carry schema id %d, the subject's is %d" % (n, sid, latest.schema_id))
    if stats["valid"] != args.expect_valid:
        problems.append("decoded %d valid records, want %d" % (stats["valid"], args.expect_valid))
    if stats["amount_minor"] != args.expect_amount:
        problems.append("sum of amount_minor %d, want %d" % (stats["amount_minor"], args.expect_amount))
    skipped_want = sum(len(v) for v in skip.values())
    if stats["skipped"] != skipped_want:
        problems.append("met %d of the %d poison offsets" % (stats["skipped"], skipped_want))
    try:
        checked = compare_sample(args, sample, problems)
    except psycopg.Error as e:
        problems.append("database: %s" % str(e).splitlines()[0])
        checked = 0

    for p in problems[:50]:
        print("PROBLEM", p, file=sys.stderr)
    summary = dict(stats, schema_id=latest.schema_id, schema_ids={str(k): v for k, v in schema_ids.items()},
                   sample_checked=checked, problems=len(problems), read_seconds=round(elapsed, 2),
                   confluent_kafka=confluent_kafka.version(), librdkafka=confluent_kafka.libversion()[0])
    print(json.dumps(summary, sort_keys=True))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
