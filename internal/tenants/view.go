package tenants

import "time"

// View is a tenant as pnonboard shows it outside: the API's tenant body and the tenant in
// webhook payloads. It never holds secret keys.
type View struct {
	ExternalID    string            `json:"externalId"`
	Name          string            `json:"name"`
	State         State             `json:"state"`
	DesiredState  Desired           `json:"desiredState"`
	Environments  []string          `json:"environments"`
	Metadata      map[string]string `json:"metadata"`
	CustomerID    *string           `json:"customerId"`
	AppID         *string           `json:"appId"`
	Keysets       []KeysetView      `json:"keysets"`
	Drift         []Drift           `json:"drift"`
	LastCheckedAt *time.Time        `json:"lastCheckedAt"`
	LastError     *string           `json:"lastError"`
	FailedStep    *string           `json:"failedStep"`
	CreatedAt     time.Time         `json:"createdAt"`
	UpdatedAt     time.Time         `json:"updatedAt"`
	ProvisionedAt *time.Time        `json:"provisionedAt"`
	DisabledAt    *time.Time        `json:"disabledAt"`
}

// KeysetView is one environment's keyset as shown outside: public keys only.
type KeysetView struct {
	Environment  string      `json:"environment"`
	KeysetID     *string     `json:"keysetId"`
	Type         string      `json:"type"`
	PublishKey   *string     `json:"publishKey"`
	SubscribeKey *string     `json:"subscribeKey"`
	State        KeysetState `json:"state"`
}

// View returns the tenant's outside representation.
func (t *Tenant) View() View {
	v := View{
		ExternalID: t.ExternalID, Name: t.Name, State: t.State, DesiredState: t.Desired,
		Environments: t.Environments, Metadata: t.Metadata,
		CustomerID: nullable(t.CustomerID), AppID: nullable(t.AppID),
		LastError: nullable(t.LastError), FailedStep: nullable(t.FailedStep),
		CreatedAt: t.CreatedAt.UTC(), UpdatedAt: t.UpdatedAt.UTC(),
		ProvisionedAt: utc(t.ProvisionedAt), DisabledAt: utc(t.DisabledAt),
		Drift: t.Drift, LastCheckedAt: utc(t.LastCheckedAt),
		Keysets: make([]KeysetView, len(t.Keysets)),
	}
	if v.Metadata == nil {
		v.Metadata = map[string]string{}
	}
	if v.Drift == nil {
		v.Drift = []Drift{}
	}
	for i := range t.Keysets {
		k := &t.Keysets[i]
		v.Keysets[i] = KeysetView{Environment: k.Environment, KeysetID: nullable(k.KeysetID), Type: k.Type,
			PublishKey: nullable(k.PublishKey), SubscribeKey: nullable(k.SubscribeKey), State: k.State()}
	}
	return v
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
