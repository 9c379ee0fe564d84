package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/utask/utask/auth"
	"github.com/utask/utask/service"
	"github.com/utask/utask/template"
)

// Route describes one route of the API, enough to register it and to
// generate its OpenAPI description.
type Route struct {
	// Method is the HTTP method.
	Method string
	// Pattern is the path, with {name} for a path parameter.
	Pattern string
	// OperationID names the operation in the OpenAPI document and in the
	// audit log.
	OperationID string
	// Tag groups the operation in the OpenAPI document.
	Tag string
	// Auth says the caller must be identified.
	Auth bool
	// Admin says the caller must be an administrator (401 otherwise,
	// before the maintenance gate); it implies Auth.
	Admin bool
	// Maintenance says the route writes, and is refused in maintenance mode.
	Maintenance bool
	// Status is the status of a successful response.
	Status int
	// Body is a zero value of the request body, nil when there is none.
	Body any
	// Response is a zero value of the response body, nil when there is none.
	Response any
	// Query lists the query parameters the route reads.
	Query []QueryParam
	// ContentType is the media type of the response body, when it is
	// neither JSON (or YAML, on request) nor plain text (a string Response).
	ContentType string
}

// QueryParam describes a query parameter of a route.
type QueryParam struct {
	// Name is the parameter's name.
	Name string
	// Value is a zero value of the parameter's Go type; a slice is a
	// parameter that may be repeated.
	Value any
}

// pagingParams returns the query parameters of a paged listing.
func pagingParams() []QueryParam {
	return []QueryParam{{Name: "page_size", Value: uint64(0)}, {Name: "last", Value: ""}}
}

// OpenAPI tags.
const (
	tagTask       = "01 - task"
	tagResolution = "02 - resolution"
	tagComment    = "03 - comment"
	tagTemplate   = "04 - template"
	tagFunction   = "05 - function"
	tagMisc       = "x-misc"
	tagCallback   = "callback"
)

// handlerFunc serves one route. id is the caller (the zero Identity on
// routes without authentication). A returned error is written by writeError;
// on success the handler writes the response itself.
type handlerFunc func(w http.ResponseWriter, r *http.Request, id auth.Identity) error

// route is a Route with its handler.
type route struct {
	Route
	handle handlerFunc
}

// routes returns the route table. It is the only place routes are declared.
func (s *server) routes() []route {
	return []route{
		{Route{
			Method: http.MethodPost, Pattern: "/task", OperationID: "CreateTask", Tag: tagTask,
			Auth: true, Maintenance: true, Status: http.StatusCreated,
			Body: service.CreateTaskRequest{}, Response: service.Task{},
		}, s.createTask},
		{Route{
			Method: http.MethodPost, Pattern: "/batch", OperationID: "BatchCreateTask", Tag: tagTask,
			Auth: true, Maintenance: true, Status: http.StatusCreated,
			Body: service.CreateBatchRequest{}, Response: service.Batch{},
		}, s.createBatch},
		{Route{
			Method: http.MethodPost, Pattern: "/unsecured/callback/{id}", OperationID: "HandleCallback", Tag: tagCallback,
			Maintenance: true, Status: http.StatusOK, Body: map[string]any{}, Response: service.CallbackMessage{},
			Query: []QueryParam{{Name: "t", Value: ""}},
		}, s.handleCallback},
		{Route{
			Method: http.MethodGet, Pattern: "/task", OperationID: "ListTasks", Tag: tagTask,
			Auth: true, Status: http.StatusOK, Response: []service.Task{},
			Query: append([]QueryParam{
				{Name: "type", Value: ""}, {Name: "state", Value: ""}, {Name: "template", Value: ""},
				{Name: "batch", Value: ""}, {Name: "tag", Value: []string{}},
				{Name: "before", Value: time.Time{}}, {Name: "after", Value: time.Time{}},
			}, pagingParams()...),
		}, s.listTasks},
		{Route{
			Method: http.MethodGet, Pattern: "/task/{id}", OperationID: "GetTask", Tag: tagTask,
			Auth: true, Status: http.StatusOK, Response: service.Task{},
		}, s.getTask},
		{Route{
			Method: http.MethodPost, Pattern: "/task/{id}/wontfix", OperationID: "CancelTask", Tag: tagTask,
			Auth: true, Maintenance: true, Status: http.StatusNoContent,
		}, s.wontfixTask},
		{Route{
			Method: http.MethodDelete, Pattern: "/task/{id}", OperationID: "DeleteTask", Tag: tagTask,
			Auth: true, Admin: true, Maintenance: true, Status: http.StatusNoContent,
		}, s.deleteTask},
		{Route{
			Method: http.MethodPut, Pattern: "/task/{id}", OperationID: "EditTask", Tag: tagTask,
			Auth: true, Maintenance: true, Status: http.StatusOK,
			Body: service.EditTaskRequest{}, Response: service.Task{},
		}, s.editTask},
		{Route{
			Method: http.MethodGet, Pattern: "/task/{id}/audit", OperationID: "ListTaskAudit", Tag: tagTask,
			Auth: true, Status: http.StatusOK, Response: []service.AuditEntry{}, Query: pagingParams(),
		}, s.listTaskAudit},
		{Route{
			Method: http.MethodPut, Pattern: "/resolution/{id}", OperationID: "EditTaskResolution", Tag: tagResolution,
			Auth: true, Admin: true, Maintenance: true, Status: http.StatusNoContent,
			Body: service.EditResolutionRequest{},
		}, s.editResolution},
		{Route{
			Method: http.MethodPut, Pattern: "/resolution/{id}/step/{stepName}", OperationID: "EditTaskResolutionStep",
			Tag: tagResolution, Auth: true, Admin: true, Maintenance: true, Status: http.StatusNoContent,
			Body: template.Step{},
		}, s.editResolutionStep},
		{Route{
			Method: http.MethodPost, Pattern: "/task/{id}/comment", OperationID: "AddTaskComment", Tag: tagComment,
			Auth: true, Maintenance: true, Status: http.StatusCreated,
			Body: service.CommentRequest{}, Response: service.Comment{},
		}, s.createComment},
		{Route{
			Method: http.MethodGet, Pattern: "/task/{id}/comment", OperationID: "ListTaskComments", Tag: tagComment,
			Auth: true, Status: http.StatusOK, Response: []service.Comment{},
		}, s.listComments},
		{Route{
			Method: http.MethodGet, Pattern: "/task/{id}/comment/{commentid}", OperationID: "GetTaskComment",
			Tag: tagComment, Auth: true, Status: http.StatusOK, Response: service.Comment{},
		}, s.getComment},
		{Route{
			Method: http.MethodPut, Pattern: "/task/{id}/comment/{commentid}", OperationID: "EditTaskComment",
			Tag: tagComment, Auth: true, Maintenance: true, Status: http.StatusOK,
			Body: service.CommentRequest{}, Response: service.Comment{},
		}, s.updateComment},
		{Route{
			Method: http.MethodDelete, Pattern: "/task/{id}/comment/{commentid}", OperationID: "DeleteTaskComment",
			Tag: tagComment, Auth: true, Maintenance: true, Status: http.StatusNoContent,
		}, s.deleteComment},
		{Route{
			Method: http.MethodPost, Pattern: "/resolution", OperationID: "CreateTaskResolution", Tag: tagResolution,
			Auth: true, Maintenance: true, Status: http.StatusCreated,
			Body: service.CreateResolutionRequest{}, Response: service.Resolution{},
		}, s.createResolution},
		{Route{
			Method: http.MethodGet, Pattern: "/resolution/{id}", OperationID: "GetTaskResolution", Tag: tagResolution,
			Auth: true, Status: http.StatusOK, Response: service.Resolution{},
		}, s.getResolution},
		{Route{
			Method: http.MethodPost, Pattern: "/resolution/{id}/run", OperationID: "ExecuteTask", Tag: tagResolution,
			Auth: true, Maintenance: true, Status: http.StatusNoContent,
		}, s.runResolution},
		{Route{
			Method: http.MethodPost, Pattern: "/resolution/{id}/pause", OperationID: "PauseTaskExecution", Tag: tagResolution,
			Auth: true, Maintenance: true, Status: http.StatusNoContent,
			Query: []QueryParam{{Name: "force", Value: false}},
		}, s.pauseResolution},
		{Route{
			Method: http.MethodPost, Pattern: "/resolution/{id}/extend", OperationID: "ExtendTaskResolution",
			Tag: tagResolution, Auth: true, Maintenance: true, Status: http.StatusNoContent,
		}, s.extendResolution},
		{Route{
			Method: http.MethodPost, Pattern: "/resolution/{id}/cancel", OperationID: "CancelTaskResolution",
			Tag: tagResolution, Auth: true, Maintenance: true, Status: http.StatusNoContent,
		}, s.cancelResolution},
		{Route{
			Method: http.MethodPut, Pattern: "/resolution/{id}/step/{stepName}/state", OperationID: "EditTaskResolutionStepState",
			Tag: tagResolution, Auth: true, Maintenance: true, Status: http.StatusNoContent, Body: service.StepStateRequest{},
		}, s.setStepState},
		{Route{
			Method: http.MethodGet, Pattern: "/resolution/{id}/step/{stepName}", OperationID: "GetTaskResolutionStep",
			Tag: tagResolution, Auth: true, Status: http.StatusOK, Response: template.Step{},
		}, s.getResolutionStep},
		{Route{
			Method: http.MethodGet, Pattern: "/template", OperationID: "ListTemplates", Tag: tagTemplate,
			Auth: true, Status: http.StatusOK, Response: []template.Template{}, Query: pagingParams(),
		}, s.listTemplates},
		{Route{
			Method: http.MethodGet, Pattern: "/template/{name}", OperationID: "GetTemplate", Tag: tagTemplate,
			Auth: true, Status: http.StatusOK, Response: template.Template{},
		}, s.getTemplate},
		{Route{
			Method: http.MethodGet, Pattern: "/function", OperationID: "ListFunctions", Tag: tagFunction,
			Auth: true, Status: http.StatusOK, Response: []template.Function{}, Query: pagingParams(),
		}, s.listFunctions},
		{Route{
			Method: http.MethodGet, Pattern: "/function/{name}", OperationID: "GetFunction", Tag: tagFunction,
			Auth: true, Status: http.StatusOK, Response: template.Function{},
		}, s.getFunction},
		{Route{
			Method: http.MethodPost, Pattern: "/key-rotate", OperationID: "ReencryptData", Tag: tagMisc,
			Auth: true, Admin: true, Status: http.StatusOK,
		}, s.reencryptData},
		{Route{
			Method: http.MethodGet, Pattern: "/meta", OperationID: "GetMetadata", Tag: tagMisc,
			Auth: true, Status: http.StatusOK, Response: service.Meta{},
		}, s.meta},
		{Route{
			Method: http.MethodGet, Pattern: "/{$}", OperationID: "Root", Tag: tagMisc,
			Auth: true, Status: http.StatusMovedPermanently,
		}, s.root},
		{Route{
			Method: http.MethodGet, Pattern: metricsPath, OperationID: "GetMetrics", Tag: tagMisc,
			Status: http.StatusOK, Response: "", ContentType: "text/plain",
		}, s.metrics},
		{Route{
			Method: http.MethodGet, Pattern: "/unsecured/mon/ping", OperationID: "Ping", Tag: tagMisc,
			Status: http.StatusOK, Response: "pong",
		}, s.ping},
		{Route{
			Method: http.MethodGet, Pattern: "/unsecured/template-schema.json", OperationID: "GetTemplateSchema", Tag: tagTemplate,
			Status: http.StatusOK, Response: json.RawMessage{}, ContentType: "application/schema+json",
		}, s.templateSchema},
		{Route{
			Method: http.MethodGet, Pattern: "/unsecured/stats", OperationID: "GetStats", Tag: tagMisc,
			Status: http.StatusOK, Response: service.Stats{}, Query: []QueryParam{{Name: "tag", Value: []string{}}},
		}, s.stats},
		{Route{
			Method: http.MethodGet, Pattern: "/unsecured/spec.json", OperationID: "GetOpenAPISpec", Tag: tagMisc,
			Status: http.StatusOK, Response: map[string]any{},
		}, s.openAPISpec},
	}
}

// Routes returns the description of every route of the API, in the order
// they are declared.
func Routes() []Route {
	var s *server // the handlers are not called, only listed

	table := s.routes()
	out := make([]Route, 0, len(table))

	for _, r := range table {
		out = append(out, r.Route)
	}

	return out
}
