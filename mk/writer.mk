# Writer benchmarks (issue 4), numbers not pass/fail. Targets: the writer's
# exactly-once batch write >= 150,000 rows/s and >= 0.8 x a bare binary COPY
# of the same rows; a 1,000,000-record drain at >= 150,000 rows/s within
# 256 MB peak RSS.
#   WriteVsCopy: bare COPY vs Sink.Write, interleaved, same rows and table
#                (batch sizes 1k/10k/50k; and two lanes at once)
#   Drain:       1M records in kfake (6 partitions) drained by the writer
#                binary as shipped; rows/s, steady rows/s, peak RSS (VmHWM)
#   Decode:      decode + validate of one record (schema id cached)
# WRITER_DRAIN_RECORDS=200000 shortens the drain; WRITER_DRAIN_ENV passes
# writer settings, e.g. WRITER_DRAIN_ENV="WRITE_PARALLELISM=1".

WRITER_BENCHTIME ?= 30x

.PHONY: bench-writer
bench-writer: postgres ## writer benchmarks: exactly-once write vs bare COPY, 1M-record drain (rows/s, peak RSS), decode
	cd services/writer && go test -run '^$$' -bench WriteVsCopy -benchtime $(WRITER_BENCHTIME) ./internal/sink
	cd services/writer && go test -run '^$$' -bench Drain -benchtime 1x -timeout 30m ./cmd/writer
	cd services/writer && go test -run '^$$' -bench 'Decode|RowSource' -benchmem ./internal/decode ./internal/sink
