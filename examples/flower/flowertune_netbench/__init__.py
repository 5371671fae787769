"""A FlowerTune-style federated LoRA app (ServerApp + ClientApp) recorded by the netbench Flower recorder."""
