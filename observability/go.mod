module github.com/finflow/finflow/observability

go 1.26
