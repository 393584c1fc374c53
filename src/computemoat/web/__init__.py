"""Web dashboard: the scenario, the latency map and the plan, as pages a person can read."""

from computemoat.web.app import DashboardData, create_dashboard_app

__all__ = ["DashboardData", "create_dashboard_app"]
