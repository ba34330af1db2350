// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A Kafka cluster for the tests: librdkafka's mock cluster (three brokers
 * speaking the Kafka protocol over TCP on 127.0.0.1, no Kafka broker being
 * packaged for Debian), with one topic, partition p led by broker
 * p % 3 + 1.
 *
 *   kafka_mock TOPIC PARTITIONS
 *
 * prints the bootstrap servers as one line on stdout, then reads commands
 * on stdin, one a line, and answers each with "ok" or "error ...":
 *   down N   broker N (1 to 3; -1 all) closes its connections, takes none
 *   up N     broker N takes connections again
 *   quit
 * It exits when stdin closes, so a test that fails cannot leave it behind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define BROKERS	3

int main(int argc, char **argv)
{
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	char errstr[512], line[256];
	int partitions, err;

	if (argc != 3 || (partitions = atoi(argv[2])) < 1) {
		fprintf(stderr, "usage: kafka_mock TOPIC PARTITIONS\n");
		return 2;
	}
	/* The cluster lives in a client handle; this one sends nothing. */
	conf = rd_kafka_conf_new();
	/* quiet about the bootstrap.servers this handle does not need */
	rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr));
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!rk) {
		fprintf(stderr, "kafka_mock: %s\n", errstr);
		return 1;
	}
	mc = rd_kafka_mock_cluster_new(rk, BROKERS);
	if (!mc) {
		fprintf(stderr, "kafka_mock: cannot create the mock cluster\n");
		return 1;
	}
	err = rd_kafka_mock_topic_create(mc, argv[1], partitions, BROKERS);
	/*
	 * Leaders in turn, partition p on broker p % BROKERS + 1: librdkafka
	 * 2.0's mock picks each partition's leader at random, so with 6
	 * partitions 1 run in 11 (2/3 to the 6th) had a broker that led
	 * nothing, and "down N" of it stopped no record
	 */
	for (int p = 0; !err && p < partitions; p++)
		err = rd_kafka_mock_partition_set_leader(mc, argv[1], p,
							 p % BROKERS + 1);
	if (err) {
		fprintf(stderr, "kafka_mock: topic %s: %s\n", argv[1],
			rd_kafka_err2str(err));
		return 1;
	}
	printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		int id;

		if (!strncmp(line, "quit", 4))
			break;
		if (line[0] == '\n')
			continue;
		if (sscanf(line, "down %d", &id) == 1)
			err = rd_kafka_mock_broker_set_down(mc, id);
		else if (sscanf(line, "up %d", &id) == 1)
			err = rd_kafka_mock_broker_set_up(mc, id);
		else
			err = RD_KAFKA_RESP_ERR__INVALID_ARG;
		if (err)
			printf("error %s\n", rd_kafka_err2str(err));
		else
			printf("ok\n");
		fflush(stdout);
	}
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}
