import type { Command } from "commander";

/** Adds `flyte-connector manifests`: prints Kubernetes manifests (issue 5). */
export function registerManifestsCommand(program: Command): void {
  void program;
}
