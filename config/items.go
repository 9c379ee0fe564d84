package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"sigs.k8s.io/yaml"
)

// Keys of the optional authentication items.
const (
	BasicAuthKey  = "basic-auth"
	GroupsAuthKey = "groups-auth"
)

// TemplateConfig returns the items exposed to templates as .config: every key not in concealed
// (compared as normalised keys), non-empty values only, the first value per key, each parsed as
// YAML (hence JSON) with numbers kept exact as json.Number when possible, else the raw string.
// YAML 1.1 typing applies: yes is true and 010 is 8. The map is a fresh snapshot.
func (s *Store) TemplateConfig(concealed []string) map[string]any {
	hidden := make(map[string]bool, len(concealed))
	for _, k := range concealed {
		hidden[NormaliseKey(k)] = true
	}

	out := make(map[string]any)

	for _, key := range s.Keys() {
		if hidden[key] {
			continue
		}

		it, ok := s.first(key)
		if !ok || it.Value == "" {
			continue
		}

		out[key] = parseTemplateValue(it.Value)
	}

	return out
}

// parseTemplateValue decodes value as YAML, or returns it unchanged when it is not YAML.
func parseTemplateValue(value string) any {
	j, err := yaml.YAMLToJSON([]byte(value))
	if err != nil {
		return value
	}

	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()

	var v any
	if err := dec.Decode(&v); err != nil {
		return value
	}

	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return value
	}

	return v
}

// BasicAuth parses the optional basic-auth item ({user: password}); a missing or empty item gives
// nil, invalid JSON an error naming the item.
func (s *Store) BasicAuth() (map[string]string, error) {
	var m map[string]string
	if err := s.decodeJSONItem(BasicAuthKey, &m); err != nil {
		return nil, err
	}

	return m, nil
}

// GroupsAuth parses the optional groups-auth item ({group: [users]}); a missing or empty item gives
// nil, invalid JSON an error naming the item.
func (s *Store) GroupsAuth() (map[string][]string, error) {
	var m map[string][]string
	if err := s.decodeJSONItem(GroupsAuthKey, &m); err != nil {
		return nil, err
	}

	return m, nil
}

// decodeJSONItem decodes the first value of key into dst, leaving dst alone when the item is
// missing or blank.
func (s *Store) decodeJSONItem(key string, dst any) error {
	it, ok := s.first(key)
	if !ok || strings.TrimSpace(it.Value) == "" {
		return nil
	}

	if err := json.Unmarshal([]byte(it.Value), dst); err != nil {
		return fmt.Errorf("parse %s item: %w", key, err)
	}

	return nil
}
