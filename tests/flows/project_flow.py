from metaflow import FlowSpec, current, project, step


@project(name="mfd_proj")
class ProjectFlow(FlowSpec):
    """Records what @project resolved, in two steps."""

    @step
    def start(self):
        self.seen = self.project_facts()
        self.next(self.end)

    @step
    def end(self):
        self.seen_at_end = self.project_facts()

    def project_facts(self):
        return {
            "project_name": current.project_name,
            "branch_name": current.branch_name,
            "project_flow_name": current.project_flow_name,
            "is_production": current.is_production,
            "is_user_branch": current.is_user_branch,
        }


if __name__ == "__main__":
    ProjectFlow()
