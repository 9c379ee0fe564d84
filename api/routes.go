package api

import (
	"net/http"

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
	// Maintenance says the route writes, and is refused in maintenance mode.
	Maintenance bool
	// Status is the status of a successful response.
	Status int
	// Body is a zero value of the request body, nil when there is none.
	Body any
	// Response is a zero value of the response body, nil when there is none.
	Response any
}

// OpenAPI tags.
const (
	tagTask       = "01 - task"
	tagResolution = "02 - resolution"
	tagTemplate   = "04 - template"
	tagMisc       = "x-misc"
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
			Method: http.MethodGet, Pattern: "/task", OperationID: "ListTasks", Tag: tagTask,
			Auth: true, Status: http.StatusOK, Response: []service.Task{},
		}, s.listTasks},
		{Route{
			Method: http.MethodGet, Pattern: "/task/{id}", OperationID: "GetTask", Tag: tagTask,
			Auth: true, Status: http.StatusOK, Response: service.Task{},
		}, s.getTask},
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
			Method: http.MethodGet, Pattern: "/template", OperationID: "ListTemplates", Tag: tagTemplate,
			Auth: true, Status: http.StatusOK, Response: []template.Template{},
		}, s.listTemplates},
		{Route{
			Method: http.MethodGet, Pattern: "/template/{name}", OperationID: "GetTemplate", Tag: tagTemplate,
			Auth: true, Status: http.StatusOK, Response: template.Template{},
		}, s.getTemplate},
		{Route{
			Method: http.MethodGet, Pattern: "/meta", OperationID: "GetMetadata", Tag: tagMisc,
			Auth: true, Status: http.StatusOK, Response: service.Meta{},
		}, s.meta},
		{Route{
			Method: http.MethodGet, Pattern: "/{$}", OperationID: "Root", Tag: tagMisc,
			Auth: true, Status: http.StatusMovedPermanently,
		}, s.root},
		{Route{
			Method: http.MethodGet, Pattern: "/unsecured/mon/ping", OperationID: "Ping", Tag: tagMisc,
			Status: http.StatusOK, Response: "pong",
		}, s.ping},
		{Route{
			Method: http.MethodGet, Pattern: "/unsecured/template-schema.json", OperationID: "GetTemplateSchema", Tag: tagTemplate,
			Status: http.StatusOK,
		}, s.templateSchema},
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
