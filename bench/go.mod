module github.com/finflow/finflow/bench

go 1.26
