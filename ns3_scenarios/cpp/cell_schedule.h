// A Python callable scheduled on ns-3's simulator a delay from now (ns3_scenarios.engines.cell),
// compiled by cppyy on a cell round's first use.
#pragma once
#include <cstdint>
#include <functional>
namespace netbench_cell {
void Schedule(int64_t delayNs, std::function<void()> f) {
  ns3::Simulator::Schedule(ns3::NanoSeconds(delayNs), [f] { f(); });
}
}  // namespace netbench_cell
