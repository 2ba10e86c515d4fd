/*
 * In-process Kafka cluster for tests, built on librdkafka's mock cluster
 * (rdkafka_mock.h, an experimental API of librdkafka 1.4 and later).
 *
 * Usage: mock-kafka [--brokers N] [TOPIC:PARTITIONS ...]
 *
 * On startup the program creates the cluster and the topics, then writes
 * one line "BOOTSTRAP host:port,host:port,..." to stdout. It then reads
 * one command a line from stdin and replies to each with "OK" or
 * "ERR <message>":
 *
 *   broker-down ID                 disconnect broker ID, reject new connections
 *   broker-up ID                   accept connections on broker ID again
 *   create-topic NAME PARTITIONS   create a topic
 *   quit                           destroy the cluster and exit 0
 *
 * End of input also destroys the cluster and exits 0, so the cluster goes
 * away when the parent process dies and its end of the pipe closes.
 */

#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define DEFAULT_BROKER_COUNT 3
/* Kafka rejects topic names longer than 249 characters. */
#define MAX_TOPIC_NAME_LENGTH 249
/* Replication factor of created topics, capped at the broker count. Three is
 * the usual production value. */
#define MAX_REPLICATION_FACTOR 3

static rd_kafka_mock_cluster_t *cluster;
static int broker_count = DEFAULT_BROKER_COUNT;

/* Parses a decimal integer in [min, max]. Returns 0 on success, -1 otherwise. */
static int parse_int(const char *text, long min, long max, long *out) {
        char *end;
        long value;

        if (text == NULL || *text == '\0')
                return -1;
        errno = 0;
        value = strtol(text, &end, 10);
        if (errno != 0 || *end != '\0' || value < min || value > max)
                return -1;
        *out = value;
        return 0;
}

/* Returns NULL when name is a legal Kafka topic name, else the reason. */
static const char *validate_topic_name(const char *name) {
        size_t length = strlen(name);
        size_t i;

        if (length == 0)
                return "topic name is empty";
        if (length > MAX_TOPIC_NAME_LENGTH)
                return "topic name is longer than 249 characters";
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return "topic name must not be \".\" or \"..\"";
        for (i = 0; i < length; i++) {
                char c = name[i];
                int allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                              (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                              c == '-';
                if (!allowed)
                        return "topic name may contain only ASCII letters, "
                               "digits, '.', '_' and '-'";
        }
        return NULL;
}

/*
 * Creates a topic and writes the reason for a failure into error.
 * Returns 0 on success, -1 on failure.
 */
static int create_topic(const char *name, const char *partitions_text,
                        char *error, size_t error_size) {
        const char *name_error = validate_topic_name(name);
        long partitions;
        int replication_factor;
        rd_kafka_resp_err_t err;

        if (name_error != NULL) {
                snprintf(error, error_size, "invalid topic name \"%s\": %s",
                         name, name_error);
                return -1;
        }
        if (parse_int(partitions_text, 1, INT32_MAX, &partitions) != 0) {
                snprintf(error, error_size,
                         "invalid partition count \"%s\" for topic \"%s\": "
                         "expected a positive integer",
                         partitions_text, name);
                return -1;
        }

        replication_factor = broker_count < MAX_REPLICATION_FACTOR
                                 ? broker_count
                                 : MAX_REPLICATION_FACTOR;
        err = rd_kafka_mock_topic_create(cluster, name, (int)partitions,
                                         replication_factor);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                snprintf(error, error_size, "creating topic \"%s\" failed: %s",
                         name, rd_kafka_err2str(err));
                return -1;
        }
        return 0;
}

/* Sets broker id down (down != 0) or up. Returns 0 on success, -1 otherwise. */
static int set_broker_state(const char *id_text, int down, char *error,
                            size_t error_size) {
        long id;
        rd_kafka_resp_err_t err;

        /* librdkafka numbers mock brokers from 1 to the broker count. It
         * also accepts -1 for all brokers, which this command does not. */
        if (parse_int(id_text, 1, broker_count, &id) != 0) {
                snprintf(error, error_size,
                         "invalid broker id \"%s\": expected 1 to %d",
                         id_text == NULL ? "" : id_text, broker_count);
                return -1;
        }

        if (down)
                err = rd_kafka_mock_broker_set_down(cluster, (int32_t)id);
        else
                err = rd_kafka_mock_broker_set_up(cluster, (int32_t)id);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                snprintf(error, error_size, "setting broker %ld %s failed: %s",
                         id, down ? "down" : "up", rd_kafka_err2str(err));
                return -1;
        }
        return 0;
}

/*
 * Runs one command line and writes "OK" or "ERR <message>" to stdout.
 * Returns 1 when the command was quit, 0 otherwise.
 */
static int run_command(char *line) {
        char error[512];
        const char *command = strtok(line, " \t");
        const char *first = strtok(NULL, " \t");
        const char *second = strtok(NULL, " \t");
        const char *extra = strtok(NULL, " \t");
        int failed = 0;

        error[0] = '\0';
        if (command == NULL) {
                snprintf(error, sizeof(error), "empty command");
                failed = 1;
        } else if (strcmp(command, "quit") == 0) {
                return 1;
        } else if (strcmp(command, "broker-down") == 0 ||
                   strcmp(command, "broker-up") == 0) {
                if (first == NULL || second != NULL) {
                        snprintf(error, sizeof(error), "usage: %s ID", command);
                        failed = 1;
                } else {
                        failed = set_broker_state(
                                     first, strcmp(command, "broker-down") == 0,
                                     error, sizeof(error)) != 0;
                }
        } else if (strcmp(command, "create-topic") == 0) {
                if (first == NULL || second == NULL || extra != NULL) {
                        snprintf(error, sizeof(error),
                                 "usage: create-topic NAME PARTITIONS");
                        failed = 1;
                } else {
                        failed = create_topic(first, second, error,
                                              sizeof(error)) != 0;
                }
        } else {
                snprintf(error, sizeof(error),
                         "unknown command \"%s\": expected broker-down, "
                         "broker-up, create-topic or quit",
                         command);
                failed = 1;
        }

        if (failed)
                printf("ERR %s\n", error);
        else
                printf("OK\n");
        return 0;
}

/* Creates a topic from a TOPIC:PARTITIONS argument, or exits with status 2. */
static void create_topic_from_argument(const char *argument) {
        char error[512];
        char *copy = strdup(argument);
        char *colon;

        if (copy == NULL) {
                fprintf(stderr, "mock-kafka: out of memory\n");
                exit(1);
        }
        colon = strrchr(copy, ':');
        if (colon == NULL) {
                fprintf(stderr,
                        "mock-kafka: invalid topic argument \"%s\": "
                        "expected NAME:PARTITIONS\n",
                        argument);
                exit(2);
        }
        *colon = '\0';
        if (create_topic(copy, colon + 1, error, sizeof(error)) != 0) {
                fprintf(stderr, "mock-kafka: %s\n", error);
                exit(2);
        }
        free(copy);
}

int main(int argc, char **argv) {
        char errstr[512];
        rd_kafka_conf_t *conf;
        rd_kafka_t *handle;
        const char *bootstraps;
        char *line = NULL;
        size_t line_capacity = 0;
        int first_topic = 1;
        int i;

        /* A dead parent closes the pipe. Writing then fails with EPIPE,
         * which the loop below treats as the end of the session. */
        signal(SIGPIPE, SIG_IGN);

        if (argc >= 2 && strcmp(argv[1], "--brokers") == 0) {
                long count;
                if (parse_int(argc >= 3 ? argv[2] : NULL, 1, 64, &count) != 0) {
                        fprintf(stderr,
                                "mock-kafka: invalid --brokers value \"%s\": "
                                "expected 1 to 64\n",
                                argc >= 3 ? argv[2] : "");
                        return 2;
                }
                broker_count = (int)count;
                first_topic = 3;
        }

        /* The mock cluster needs a client handle for its internal threads
         * and bookkeeping. This producer never sends anything, and with no
         * bootstrap.servers it makes no connections of its own. */
        conf = rd_kafka_conf_new();
        if (rd_kafka_conf_set(conf, "client.id", "nexttap-mock-kafka", errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK) {
                fprintf(stderr, "mock-kafka: %s\n", errstr);
                rd_kafka_conf_destroy(conf);
                return 1;
        }
        handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
        if (handle == NULL) {
                fprintf(stderr, "mock-kafka: creating the client handle failed: %s\n",
                        errstr);
                rd_kafka_conf_destroy(conf);
                return 1;
        }

        cluster = rd_kafka_mock_cluster_new(handle, broker_count);
        if (cluster == NULL) {
                fprintf(stderr, "mock-kafka: creating a mock cluster with %d "
                                "brokers failed\n",
                        broker_count);
                rd_kafka_destroy(handle);
                return 1;
        }

        for (i = first_topic; i < argc; i++)
                create_topic_from_argument(argv[i]);

        bootstraps = rd_kafka_mock_cluster_bootstraps(cluster);
        if (printf("BOOTSTRAP %s\n", bootstraps) < 0 || fflush(stdout) != 0) {
                fprintf(stderr, "mock-kafka: writing to stdout failed\n");
                rd_kafka_mock_cluster_destroy(cluster);
                rd_kafka_destroy(handle);
                return 1;
        }

        for (;;) {
                ssize_t length = getline(&line, &line_capacity, stdin);
                if (length < 0)
                        break;
                while (length > 0 && (line[length - 1] == '\n' ||
                                      line[length - 1] == '\r'))
                        line[--length] = '\0';
                if (run_command(line))
                        break;
                if (fflush(stdout) != 0)
                        break;
        }

        free(line);
        /* NOTE: with librdkafka 2.0.2 this call took up to 1 s in local
         * runs, so stopping a cluster is not instant. */
        rd_kafka_mock_cluster_destroy(cluster);
        rd_kafka_destroy(handle);
        return 0;
}
