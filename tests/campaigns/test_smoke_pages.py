"""Every page renders for a manager."""

from __future__ import annotations

from tests.campaigns.conftest import logged_in


def test_pages_render(client, world, camps):
    logged_in(client, world.a.users["manager"], world.password)
    c = camps["a"]
    for url in ["/campaigns/", "/campaigns/new", f"/campaigns/{c.campaign_id}", f"/campaigns/{c.campaign_id}/statuses",
                f"/campaigns/{c.campaign_id}/statuses/{c.status_id}", f"/campaigns/{c.campaign_id}/pauses",
                f"/campaigns/{c.campaign_id}/callbacks", f"/campaigns/{c.campaign_id}/compliance",
                "/campaigns/scripts", "/campaigns/callbacks"]:
        response = client.get(url)
        assert response.status_code == 200, (url, response.get_data(as_text=True)[:3000])
