def test_login_page_renders_in_vietnamese(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert "Content-Security-Policy" in response.headers


def test_admin_sees_audit(as_admin):
    assert as_admin.get("/admin/audit").status_code == 200


def test_staff_list(as_hr):
    r = as_hr.get("/org/staff?q=nguyen van hung")
    assert r.status_code == 200
