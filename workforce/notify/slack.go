package notify

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/humanos/human/errs"
	"github.com/humanos/human/workforce"
)

// SlackPayload is a Slack incoming-webhook message: a plain-text fallback
// and Block Kit blocks.
type SlackPayload struct {
	Text   string       `json:"text"`
	Blocks []SlackBlock `json:"blocks"`
}

// SlackBlock is one Block Kit block (section, context or actions).
type SlackBlock struct {
	Type     string         `json:"type"`
	Text     *SlackText     `json:"text,omitempty"`
	Elements []SlackElement `json:"elements,omitempty"`
}

// SlackText is a Block Kit text object.
type SlackText struct {
	Type string `json:"type"` // "mrkdwn" or "plain_text"
	Text string `json:"text"`
}

// SlackElement is a context text or an actions button. A button only
// carries a URL: clicking it opens that page in the browser, and Slack
// sends nothing to HUMAN.
type SlackElement struct {
	Type     string     `json:"type"`
	Text     *SlackText `json:"text,omitempty"`
	ActionID string     `json:"action_id,omitempty"`
	URL      string     `json:"url,omitempty"`
	Style    string     `json:"style,omitempty"`
}

// MarshalJSON writes a context element as a bare text object, the shape
// Slack wants inside a context block, and a button as a button.
func (e SlackElement) MarshalJSON() ([]byte, error) {
	if e.Type == "mrkdwn" || e.Type == "plain_text" {
		return json.Marshal(e.Text)
	}
	type plain SlackElement
	return json.Marshal(plain(e))
}

// TaskURL is the signing page of task in the approval inbox served at
// inbox (e.g. "https://human.example.com"): inbox + "/app/tasks/{id}",
// with the intent ("approve" or "deny") preselected. The URL carries no
// credential: opening it changes nothing, and the decision only counts
// once the human signs the task's digest with their passport on that page.
func TaskURL(inbox, org, task, intent string) string {
	q := url.Values{"org": {org}}
	if intent != "" {
		q.Set("intent", intent)
	}
	return strings.TrimRight(inbox, "/") + "/app/tasks/" + url.PathEscape(task) + "?" + q.Encode()
}

// SlackMessage renders n as a Slack message. Notices that ask for a
// decision (opened, warning, escalated) get two buttons, "Review and
// approve" and "Review and deny", linking to [TaskURL] under inbox; they
// open the signing page and never decide by themselves. Other notices
// (votes, resolutions) are informational and have no buttons.
func SlackMessage(n workforce.Notice, inbox string) SlackPayload {
	var head string
	switch n.Event {
	case workforce.EventOpened:
		head = "Approval needed"
	case workforce.EventWarning:
		head = "Approval deadline approaching"
	case workforce.EventEscalated:
		head = fmt.Sprintf("Approval escalated to you (step %d)", n.Step+1)
	case workforce.EventVote:
		head = "Approval task updated: " + string(n.State)
	case workforce.EventTimedOut:
		head = "Approval timed out (denied, fail closed)"
	case workforce.EventCancelled:
		head = "Approval cancelled"
	default:
		head = "Approval task " + string(n.Event)
	}
	what := "`" + slackEscape(n.Action) + "`"
	if n.Resource != "" {
		what += " on `" + slackEscape(n.Resource) + "`"
	}
	body := fmt.Sprintf("*%s*: %s", head, what)
	if n.Capability != "" {
		body += "\nNeeds: holder of `" + slackEscape(n.Capability) + "`"
	}
	if n.Team != "" {
		body += " in team `" + slackEscape(n.Team) + "`"
	}
	if n.Reason != "" {
		body += "\nWhy: " + slackEscape(n.Reason)
	}
	if n.Detail != "" {
		body += "\n" + slackEscape(n.Detail)
	}
	p := SlackPayload{
		Text:   fmt.Sprintf("%s: %s (task %s)", head, slackEscape(n.Action), slackEscape(n.Task)),
		Blocks: []SlackBlock{{Type: "section", Text: &SlackText{Type: "mrkdwn", Text: body}}},
	}
	ctx := fmt.Sprintf("Task %s · digest %s", slackEscape(n.Task), shortDigest(n.Digest))
	if !n.Deadline.IsZero() && actionable(n.Event) {
		ctx += " · decide by " + n.Deadline.UTC().Format(time.RFC3339)
	}
	p.Blocks = append(p.Blocks, SlackBlock{Type: "context", Elements: []SlackElement{{Type: "mrkdwn", Text: &SlackText{Type: "mrkdwn", Text: ctx}}}})
	if actionable(n.Event) && inbox != "" {
		p.Blocks = append(p.Blocks, SlackBlock{Type: "actions", Elements: []SlackElement{
			{Type: "button", ActionID: "review_approve", Style: "primary", Text: &SlackText{Type: "plain_text", Text: "Review and approve"},
				URL: TaskURL(inbox, n.Org, n.Task, "approve")},
			{Type: "button", ActionID: "review_deny", Style: "danger", Text: &SlackText{Type: "plain_text", Text: "Review and deny"},
				URL: TaskURL(inbox, n.Org, n.Task, "deny")},
		}})
	}
	return p
}

// SlackBody returns a [WebhookOptions].Body rendering notices with
// [SlackMessage], for posting to a Slack incoming webhook (which ignores
// the signature header).
func SlackBody(inbox string) func(workforce.Notice) ([]byte, string, error) {
	return func(n workforce.Notice) ([]byte, string, error) {
		b, err := json.Marshal(SlackMessage(n, inbox))
		if err != nil {
			return nil, "", errs.Errorf(errs.ErrInvalidArgument, "notify: %v", err)
		}
		return b, "application/json", nil
	}
}

func actionable(e workforce.EventType) bool {
	return e == workforce.EventOpened || e == workforce.EventWarning || e == workforce.EventEscalated
}

// slackEscape escapes the three characters Slack's mrkdwn treats as
// control characters, so an action name cannot inject a link or mention.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func shortDigest(d string) string {
	if len(d) > 16 {
		return d[:16] + "…"
	}
	return d
}
