package sink

import "github.com/jackc/pgx/v5"

// Classify exposes classify to the external tests.
var Classify = classify

// RowColumns and NewRowSource expose the COPY source to the benchmarks.
var RowColumns = rowColumns

func NewRowSource(rows []Row) pgx.CopyFromSource { return newRowSource(rows) }
