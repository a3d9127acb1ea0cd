module github.com/finflow/finflow/services/producer

go 1.26
