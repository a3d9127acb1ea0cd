// Package contract embeds the protobuf contract's source text, so services
// register exactly the schema that buf lints and generates from.
package contract

import _ "embed"

// TransactionProto is the text of finflow/v1/transaction.proto.
//
//go:embed finflow/v1/transaction.proto
var TransactionProto string

const (
	// TransactionFile is the schema's path, as imports would name it.
	TransactionFile = "finflow/v1/transaction.proto"
	// TransactionMessage is the fully-qualified name of the record value.
	TransactionMessage = "finflow.v1.Transaction"
)
