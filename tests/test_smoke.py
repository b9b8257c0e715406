from fastapi.testclient import TestClient


def test_default_source_is_seeded(client: TestClient, auth_headers: dict[str, str]) -> None:
    response = client.get("/rest/V1/inventory/sources/default", headers=auth_headers)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Default Source"
