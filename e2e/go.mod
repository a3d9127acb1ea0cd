module github.com/finflow/finflow/e2e

go 1.26.0
