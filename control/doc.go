// Package control is the client of a handoff server's control socket
// (upgrader.Options.ControlPath): it asks a running server for its status,
// an upgrade or a stop, and reads the answers. The `handoff` command is
// built on it.
//
// A Client names the socket. Status returns the server's Status; Upgrade
// and Stop return a Call, whose Result reads the server's answer (an
// upgrade's progress first) and whose WaitHangUp learns when the process
// that answered has gone: a server that accepted an upgrade or a stop
// keeps the connection open until it exits.
//
// Failures say what to do about them: errors.Is matches ErrNoServer
// (nothing at the path), ErrStaleSocket (a socket whose server is gone),
// ErrNotSocket and ErrPathTooLong (a wrong path), ErrNotAllowed, and
// ErrHungUp; a server that turned a request away returns a *RefusedError
// with its reason. A server that does not answer within AnswerTimeout (out
// of file descriptors, stuck) gets its request withdrawn: ErrNoAnswer
// means it was not carried out. ErrOutcomeUnknown means the server had
// the request when the answer was lost: ask for the status. A request the server answered
// but did not grant is a Result with OK false and a Code.
package control
