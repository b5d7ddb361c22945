package model

// Error codes a Runtime reports, as v1 correlated errors (PROTOCOL.md §3.3)
// and in command_error messages. The first three are the runtime's own;
// the rest are model-defined.
const (
	// CodeInvalidCommand: unknown command or data violating its contract.
	CodeInvalidCommand = "invalid_command"
	// CodeUnresolvedUpload: a referenced upload is missing, incomplete
	// after the wait, or does not match the reference.
	CodeUnresolvedUpload = "unresolved_upload"
	// CodeInternalError: the model failed on its own account.
	CodeInternalError = "internal_error"
	// CodeQueueFull: too many commands are waiting for a chunk boundary
	// (Config.MaxQueued); nothing is queued.
	CodeQueueFull = "queue_full"
	// CodeMissingPrompt: start was applied with no prompt set.
	CodeMissingPrompt = "missing_prompt"
	// CodeScheduleFull: schedule_prompt was applied with MaxScheduledPrompts
	// prompts already waiting for their chunk.
	CodeScheduleFull = "schedule_full"
)

// CommandError is a command the runtime refused. Submit returns it for
// refusals it can decide at once; refusals decided when the command is
// applied (start without a prompt) arrive only as a command_error message.
type CommandError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *CommandError) Error() string { return e.Code + ": " + e.Message }

func cmdErr(code, msg string) *CommandError { return &CommandError{Code: code, Message: msg} }
