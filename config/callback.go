package config

import (
	"errors"
	"strings"
)

// CallbackConfigKey is the key of the optional callback-config item.
const CallbackConfigKey = "callback-config"

// CallbackConfig is the callback-config item: where the URLs of callbacks
// point.
type CallbackConfig struct {
	// BaseURL is the public URL of the server, without its trailing "/".
	// Required in the item.
	BaseURL string `json:"base_url"`
	// PathPrefix is the path the callback route is published under, when a
	// reverse proxy maps it; "" means the route's own path.
	PathPrefix string `json:"path_prefix"`
}

// CallbackConfig parses the optional callback-config item: nil when it is
// missing or blank, an error naming the item when it is invalid or has no
// base_url.
func (s *Store) CallbackConfig() (*CallbackConfig, error) {
	var c *CallbackConfig
	if err := s.decodeJSONItem(CallbackConfigKey, &c); err != nil {
		return nil, err
	}

	if c == nil {
		return nil, nil //nolint:nilnil // no item is not an error
	}

	c.BaseURL = strings.TrimSuffix(strings.TrimSpace(c.BaseURL), "/")
	if c.BaseURL == "" {
		return nil, errors.New("parse " + CallbackConfigKey + " item: base_url is required")
	}

	return c, nil
}
