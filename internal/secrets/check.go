package secrets

import (
	"context"
	"fmt"
)

// KeyringError is CheckKeyring's verdict that the configured keys cannot open what the
// database holds. Its message is one line, naming the settings to fix.
type KeyringError struct {
	// What names the secret tried, e.g. "the secret key of tenant 42's production keyset".
	What string
}

func (e *KeyringError) Error() string {
	return "PNONBOARD_ENCRYPTION_KEY (with PNONBOARD_ENCRYPTION_KEYS_PREVIOUS) cannot decrypt " + e.What +
		": set the key the data was sealed with (after a rotation, keep the old key in PNONBOARD_ENCRYPTION_KEYS_PREVIOUS)"
}

// Sample is one stored sealed secret, with the associated data it was sealed under.
type Sample struct {
	// What names it for people: "the secret key of tenant 42's production keyset".
	What        string
	Sealed, AAD []byte
}

// SampleFunc reads one sample from where its kind is stored (the packages that store sealed
// secrets provide them); ok is false when nothing of that kind is stored yet.
type SampleFunc func(ctx context.Context) (s Sample, ok bool, err error)

// CheckKeyring proves at start-up that keyring opens what is stored, so a wrong
// PNONBOARD_ENCRYPTION_KEY stops the service at once instead of failing requests one by one.
// It opens one sample of each kind. Returns nil when every sample opens (or none exists), a
// *KeyringError when one does not, or the error of reading one.
func CheckKeyring(ctx context.Context, keyring *Keyring, samples ...SampleFunc) error {
	for _, sample := range samples {
		s, ok, err := sample(ctx)
		if err != nil {
			return fmt.Errorf("check encryption key: %w", err)
		}
		if !ok {
			continue
		}
		if _, err := keyring.Open(s.Sealed, s.AAD); err != nil {
			return &KeyringError{What: s.What}
		}
	}
	return nil
}
