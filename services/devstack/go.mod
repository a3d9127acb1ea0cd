module github.com/finflow/finflow/services/devstack

go 1.26
