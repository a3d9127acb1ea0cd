module github.com/finflow/finflow/proto

go 1.26
