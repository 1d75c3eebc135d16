// MirrorMaker 2's own client code, pointed at what Strait wrote: the judge of wire compatibility.
//
// Run with the Kafka jars on the class path (Java's single-file launcher compiles it on start):
//   java -cp "$KAFKA_LIBS/*" tests/java/MirrorProbe.java COMMAND ARGS...
//
// Commands (each prints one line per fact, tab-separated, then "ok"; decode in the topic's order
// per partition, the others sorted):
//   decode BOOTSTRAP TOPIC checkpoint|heartbeat|offset-sync
//       Reads TOPIC from its start to its end and decodes every record with MM2's
//       Checkpoint / Heartbeat / OffsetSync.deserializeRecord.
//       Lines: "checkpoint GROUP TOPIC PARTITION UPSTREAM DOWNSTREAM METADATA",
//              "heartbeat SOURCE TARGET TIMESTAMP",
//              "offset-sync TOPIC PARTITION UPSTREAM DOWNSTREAM".
//       A record MM2 cannot decode prints "undecodable PARTITION OFFSET REASON" and exit status 3.
//   translate TARGET_BOOTSTRAP SOURCE_ALIAS GROUP
//       RemoteClusterUtils.translateOffsets and MirrorClient.remoteConsumerOffsets; lines
//       "translated TOPIC PARTITION OFFSET" and "remote TOPIC PARTITION OFFSET".
//   upstream BOOTSTRAP
//       MirrorClient.upstreamClusters, replicationHops of each, heartbeatTopics and
//       checkpointTopics; lines "upstream ALIAS HOPS", "heartbeat-topic NAME",
//       "checkpoint-topic NAME".

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.connect.mirror.Checkpoint;
import org.apache.kafka.connect.mirror.Heartbeat;
import org.apache.kafka.connect.mirror.MirrorClient;
import org.apache.kafka.connect.mirror.OffsetSync;
import org.apache.kafka.connect.mirror.RemoteClusterUtils;

public class MirrorProbe {
    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            usage();
        }
        List<String> lines = new ArrayList<>();
        int status = 0;
        switch (args[0]) {
            case "decode":
                if (args.length != 4) usage();
                status = decode(args[1], args[2], args[3], lines);
                break;
            case "translate":
                if (args.length != 4) usage();
                translate(args[1], args[2], args[3], lines);
                break;
            case "upstream":
                if (args.length != 2) usage();
                upstream(args[1], lines);
                break;
            default:
                usage();
        }
        if (!args[0].equals("decode")) {
            Collections.sort(lines);
        }
        for (String line : lines) {
            System.out.println(line);
        }
        System.out.println("ok");
        System.exit(status);
    }

    private static void usage() {
        System.err.println("usage: MirrorProbe decode BOOTSTRAP TOPIC checkpoint|heartbeat|offset-sync"
                + " | translate TARGET_BOOTSTRAP SOURCE_ALIAS GROUP | upstream BOOTSTRAP");
        System.exit(2);
    }

    private static int decode(String bootstrap, String topic, String kind, List<String> lines) {
        Properties props = new Properties();
        props.put("bootstrap.servers", bootstrap);
        props.put("key.deserializer", ByteArrayDeserializer.class.getName());
        props.put("value.deserializer", ByteArrayDeserializer.class.getName());
        props.put("enable.auto.commit", "false");
        int status = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props)) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (PartitionInfo info : consumer.partitionsFor(topic, TIMEOUT)) {
                partitions.add(new TopicPartition(topic, info.partition()));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions, TIMEOUT);
            long deadline = System.nanoTime() + TIMEOUT.toNanos();
            while (!reached(consumer, end)) {
                if (System.nanoTime() > deadline) {
                    throw new IllegalStateException("did not reach the end of " + topic + " " + end);
                }
                for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(200))) {
                    if (record.offset() >= end.get(new TopicPartition(topic, record.partition()))) {
                        continue;
                    }
                    try {
                        lines.add(describe(kind, record));
                    } catch (RuntimeException e) {
                        lines.add("undecodable\t" + record.partition() + "\t" + record.offset() + "\t" + e);
                        status = 3;
                    }
                }
            }
        }
        return status;
    }

    private static boolean reached(KafkaConsumer<byte[], byte[]> consumer, Map<TopicPartition, Long> end) {
        for (Map.Entry<TopicPartition, Long> e : end.entrySet()) {
            if (consumer.position(e.getKey(), TIMEOUT) < e.getValue()) {
                return false;
            }
        }
        return true;
    }

    private static String describe(String kind, ConsumerRecord<byte[], byte[]> record) {
        switch (kind) {
            case "checkpoint": {
                Checkpoint c = Checkpoint.deserializeRecord(record);
                return String.join("\t", "checkpoint", c.consumerGroupId(), c.topicPartition().topic(),
                        Integer.toString(c.topicPartition().partition()), Long.toString(c.upstreamOffset()),
                        Long.toString(c.downstreamOffset()), c.metadata());
            }
            case "heartbeat": {
                Heartbeat h = Heartbeat.deserializeRecord(record);
                return String.join("\t", "heartbeat", h.sourceClusterAlias(), h.targetClusterAlias(),
                        Long.toString(h.timestamp()));
            }
            case "offset-sync": {
                OffsetSync s = OffsetSync.deserializeRecord(record);
                return String.join("\t", "offset-sync", s.topicPartition().topic(),
                        Integer.toString(s.topicPartition().partition()), Long.toString(s.upstreamOffset()),
                        Long.toString(s.downstreamOffset()));
            }
            default:
                throw new IllegalArgumentException("unknown kind " + kind);
        }
    }

    private static Map<String, Object> clientProps(String bootstrap) {
        Map<String, Object> props = new HashMap<>();
        props.put("bootstrap.servers", bootstrap);
        return props;
    }

    private static void translate(String bootstrap, String alias, String group, List<String> lines)
            throws Exception {
        Map<TopicPartition, OffsetAndMetadata> translated =
                RemoteClusterUtils.translateOffsets(clientProps(bootstrap), alias, group, TIMEOUT);
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : new TreeMap<>(byName(translated)).values()) {
            lines.add(String.join("\t", "translated", e.getKey().topic(),
                    Integer.toString(e.getKey().partition()), Long.toString(e.getValue().offset())));
        }
        try (MirrorClient client = new MirrorClient(clientProps(bootstrap))) {
            Map<TopicPartition, OffsetAndMetadata> remote = client.remoteConsumerOffsets(group, alias, TIMEOUT);
            for (Map.Entry<TopicPartition, OffsetAndMetadata> e : new TreeMap<>(byName(remote)).values()) {
                lines.add(String.join("\t", "remote", e.getKey().topic(),
                        Integer.toString(e.getKey().partition()), Long.toString(e.getValue().offset())));
            }
        }
    }

    private static Map<String, Map.Entry<TopicPartition, OffsetAndMetadata>> byName(
            Map<TopicPartition, OffsetAndMetadata> offsets) {
        Map<String, Map.Entry<TopicPartition, OffsetAndMetadata>> named = new HashMap<>();
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet()) {
            named.put(e.getKey().toString(), e);
        }
        return named;
    }

    private static void upstream(String bootstrap, List<String> lines) throws Exception {
        try (MirrorClient client = new MirrorClient(clientProps(bootstrap))) {
            for (String alias : client.upstreamClusters()) {
                lines.add(String.join("\t", "upstream", alias, Integer.toString(client.replicationHops(alias))));
            }
            for (String topic : client.heartbeatTopics()) {
                lines.add(String.join("\t", "heartbeat-topic", topic));
            }
            for (String topic : client.checkpointTopics()) {
                lines.add(String.join("\t", "checkpoint-topic", topic));
            }
        }
    }
}
