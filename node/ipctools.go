package node

func registerIPCTools(r *Registry) {}
