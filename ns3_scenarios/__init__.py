"""ns3_scenarios: network presets, TCP configuration and ns-3 star topologies (the only package importing ns)."""
