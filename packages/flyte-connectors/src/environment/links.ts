/** What a {@link TaskLink} is rendered with: where the action runs. */
export interface LinkContext {
  /** Name of the run. */
  readonly runName: string;
  /** Name of the action the link is for. */
  readonly actionName: string;
  /** Name of the action that called it; "" for the run's first action. */
  readonly parentActionName: string;
  /** Name of the task the action runs. */
  readonly taskName: string;
  readonly project: string;
  readonly domain: string;
  /** Free-form run context (Python's `custom_context`), e.g. a tracking project name. */
  readonly customContext: Readonly<Record<string, string>>;
}

/**
 * A link shown with each action of a task (Python's `flyte.Link`), e.g. to an experiment tracker's run page.
 * Plugins implement it; `uri` must not include secrets.
 */
export interface TaskLink {
  /** Label of the link, e.g. "Weights & Biases". */
  readonly name: string;
  /** Icon shown next to the link in the UI. Default: none. */
  readonly iconUri?: string;
  /** The link's target for one action. */
  uri(context: LinkContext): string;
}
