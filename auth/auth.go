// Package auth tells who is calling and what they may do.
//
// A [Provider] maps an HTTP request to an [Identity] (a username and its
// groups). The default provider, built by [NewDefaultProvider], reads either
// HTTP basic credentials or a header set by a trusted reverse proxy; another
// provider can be plugged in at build time.
//
// The role predicates ([Policy.IsAdmin], [IsTemplateOwner], [IsRequester],
// [IsWatcher], [IsResolutionManager]) are plain functions of the identity and
// the objects concerned, so the API and the dashboard share one definition of
// who may do what. Every comparison is exact and case-sensitive.
package auth

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"sort"

	"github.com/utask/utask/store"
	"github.com/utask/utask/template"
)

// ErrUnauthenticated is returned (possibly wrapped) by a Provider when the
// request carries no acceptable identity.
var ErrUnauthenticated = errors.New("unauthenticated") //nolint:gochecknoglobals // sentinel

// RemoteUserHeader is the header a trusted reverse proxy sets to the
// authenticated username.
const RemoteUserHeader = "X-Remote-User"

// BasicChallenge is the WWW-Authenticate value sent when basic credentials
// are missing or wrong.
const BasicChallenge = `Basic realm="Authorization Required"`

// Identity is the caller of a request.
type Identity struct {
	// Username is never empty for an authenticated caller.
	Username string
	// Groups are the groups the caller belongs to, possibly none.
	Groups []string
}

// Provider extracts the caller's identity from a request.
type Provider interface {
	// Identify returns the caller's identity, or an error wrapping
	// ErrUnauthenticated when the request does not identify anyone.
	Identify(r *http.Request) (Identity, error)
}

// ChallengeError is an authentication failure that tells the client how to
// authenticate: the API sends Challenge as the WWW-Authenticate header.
type ChallengeError struct {
	// Challenge is the value of the WWW-Authenticate header.
	Challenge string
}

// Error returns the text of ErrUnauthenticated.
func (e *ChallengeError) Error() string { return ErrUnauthenticated.Error() }

// Unwrap returns ErrUnauthenticated.
func (e *ChallengeError) Unwrap() error { return ErrUnauthenticated }

// NewDefaultProvider returns the built-in provider.
//
// When basicAuth (username to password) is non-empty, the provider runs in
// basic-auth mode: the Authorization header must be byte-for-byte equal to
// "Basic " followed by the padded standard base64 of "user:password" for one
// of the users, and any other request fails with a [ChallengeError].
// Otherwise it runs in trusted-header mode: the identity is the value of the
// X-Remote-User header, which a reverse proxy must set.
//
// In both modes the groups come from groupsAuth (group to usernames), and a
// missing or empty identity is refused with ErrUnauthenticated: an anonymous
// caller never gets through as the empty username.
func NewDefaultProvider(basicAuth map[string]string, groupsAuth map[string][]string) Provider {
	p := &defaultProvider{groups: invertGroups(groupsAuth)}
	if len(basicAuth) == 0 {
		return p
	}

	users := make([]string, 0, len(basicAuth))
	for u := range basicAuth {
		users = append(users, u)
	}
	sort.Strings(users)

	for _, u := range users {
		cred := base64.StdEncoding.EncodeToString([]byte(u + ":" + basicAuth[u]))
		p.basic = append(p.basic, basicCredential{header: []byte("Basic " + cred), username: u})
	}

	return p
}

// basicCredential is the exact Authorization header that identifies one user.
type basicCredential struct {
	header   []byte
	username string
}

// defaultProvider implements both modes of NewDefaultProvider.
type defaultProvider struct {
	basic  []basicCredential // nil in trusted-header mode
	groups map[string][]string
}

// Identify implements Provider.
func (p *defaultProvider) Identify(r *http.Request) (Identity, error) {
	var username string

	if p.basic != nil {
		username = p.matchBasic(r.Header.Get("Authorization"))
		if username == "" {
			return Identity{}, &ChallengeError{Challenge: BasicChallenge}
		}
	} else {
		username = r.Header.Get(RemoteUserHeader)
		if username == "" {
			return Identity{}, ErrUnauthenticated
		}
	}

	return Identity{Username: username, Groups: slices.Clone(p.groups[username])}, nil
}

// matchBasic returns the user whose credential header equals got, or "".
// Every credential is compared in constant time, so the time taken does not
// tell which user (if any) came close.
func (p *defaultProvider) matchBasic(got string) string {
	gotBytes := []byte(got)
	found := ""

	for _, c := range p.basic {
		if subtle.ConstantTimeCompare(gotBytes, c.header) == 1 && c.username != "" {
			found = c.username
		}
	}

	return found
}

// invertGroups turns group → users into user → sorted groups.
func invertGroups(groupsAuth map[string][]string) map[string][]string {
	out := make(map[string][]string)
	for group, users := range groupsAuth {
		for _, u := range users {
			if !slices.Contains(out[u], group) {
				out[u] = append(out[u], group)
			}
		}
	}

	for u := range out {
		sort.Strings(out[u])
	}

	return out
}

// Policy holds the administrator lists of the configuration.
type Policy struct {
	// AdminUsernames are the administrators.
	AdminUsernames []string
	// AdminGroups are the groups whose members are administrators.
	AdminGroups []string
}

// IsAdmin reports whether id is an administrator: its username is in
// AdminUsernames or one of its groups is in AdminGroups.
func (p Policy) IsAdmin(id Identity) bool {
	return containsUser(p.AdminUsernames, id.Username) || intersects(id.Groups, p.AdminGroups)
}

// IsTemplateOwner reports whether id may resolve every task of t: its
// username is an allowed resolver username of t, or one of its groups an
// allowed resolver group. allow_all_resolver_usernames does not count.
func IsTemplateOwner(id Identity, t *template.Template) bool {
	if t == nil {
		return false
	}

	return containsUser(t.AllowedResolverUsernames, id.Username) ||
		intersects(id.Groups, t.AllowedResolverGroups)
}

// IsRequester reports whether id created t.
func IsRequester(id Identity, t *store.Task) bool {
	return t != nil && id.Username == t.RequesterUsername
}

// IsWatcher reports whether id watches t, by username or by group.
func IsWatcher(id Identity, t *store.Task) bool {
	if t == nil {
		return false
	}

	return containsUser(t.WatcherUsernames, id.Username) || intersects(id.Groups, t.WatcherGroups)
}

// IsResolutionManager reports whether id may act on the resolution of task t
// of template tt: it owns the template, is named among the task's resolvers
// (username or group), or is resolverUsername, the resolver of the task's
// resolution. Pass an empty resolverUsername to leave the resolution's own
// resolver out, as the routes that create or reject a resolution do.
func IsResolutionManager(id Identity, tt *template.Template, t *store.Task, resolverUsername string) bool {
	if IsTemplateOwner(id, tt) {
		return true
	}

	if resolverUsername != "" && id.Username == resolverUsername {
		return true
	}

	if t == nil {
		return false
	}

	return containsUser(t.ResolverUsernames, id.Username) || intersects(id.Groups, t.ResolverGroups)
}

// containsUser reports whether username is in list.
func containsUser(list []string, username string) bool {
	return slices.Contains(list, username)
}

// intersects reports whether a and b share an element.
func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}

	return false
}
