module github.com/finflow/finflow/services/writer

go 1.26
