package cluster

// Reload applies the settings of cfg that can change while the agent runs,
// as SIGHUP does for Consul's agent: Retention, which the reaper uses from
// its next round on (its own while this node leads). cfg must be valid;
// every other field is ignored, and takes effect only when an agent is
// started with it.
func (a *Agent) Reload(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	a.lead.SetRetention(cfg.Retention)
	a.logger.Info("settings reloaded", "retention", cfg.Retention)
	return nil
}
