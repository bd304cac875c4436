package node

func registerShell(r *Registry) {}
