package decode

// FirstMessage exposes firstMessage to the tests.
var FirstMessage = firstMessage
