"""Working papers: request list, evidence checked by content and versioned, reviewed papers,
and evidence in the archive package."""

import io

import sqlalchemy as sa
from docx import Document

from workbench.workpapers.models import EvidenceFile, RequestItem, WorkingPaper
from workbench.workpapers.services import sniff

from .test_portfolio import login


def docx_bytes(text):
    out = io.BytesIO()
    doc = Document()
    doc.add_paragraph(text)
    doc.save(out)
    return out.getvalue()


def test_content_sniffing():
    assert sniff(docx_bytes("x")) == "docx"
    assert sniff(b"%PDF-1.4 minimal") == "pdf"
    assert sniff(b"\xff\xd8\xff\xe0 jpeg") == "jpeg"
    assert sniff(b"MZ\x90\x00 an exe") is None
    assert sniff(b"PK\x03\x04 not really a zip") is None


def test_request_list_evidence_and_review(demo, client, session):
    from workbench.engagements.models import Engagement

    eid = session.scalar(sa.select(Engagement.id))
    url = f"/engagements/{eid}/workpapers/"
    login(client, "li.na")
    client.post(url + "standard-list")
    items = session.scalars(sa.select(RequestItem).order_by(RequestItem.position)).all()
    assert len(items) == 12 and items[0].indicator_codes == ["A11", "A12"]
    assert "12 missing" in client.get(url).get_data(as_text=True)

    def upload(data, name, **extra):
        return client.post(
            url + "evidence",
            content_type="multipart/form-data",
            data={"file": (io.BytesIO(data), name), **extra},
            follow_redirects=True,
        )

    upload(
        docx_bytes("立项批复 v1"),
        "立项批复.docx",
        indicator_code="A11",
        request_id=str(items[0].id),
    )
    upload(docx_bytes("立项批复 v2"), "立项批复.docx", indicator_code="A11")
    refused = upload(b"MZ\x90\x00 malware", "报告.pdf")
    assert "is not a PDF, Word, Excel or image file" in refused.get_data(as_text=True)
    renamed = upload(b"%PDF-1.4 x", "合同.docx")
    assert "does not match" in renamed.get_data(as_text=True)
    files = session.scalars(sa.select(EvidenceFile).order_by(EvidenceFile.id)).all()
    assert [(f.filename, f.version, f.kind) for f in files] == [
        ("立项批复.docx", 1, "docx"),
        ("立项批复.docx", 2, "docx"),
    ]
    assert files[0].sha256 != files[1].sha256
    session.expire_all()
    assert session.get(RequestItem, items[0].id).received  # an upload for an item marks it received
    download = client.get(f"/engagements/{eid}/workpapers/evidence/{files[0].id}")
    assert "立项批复 v1" in "\n".join(
        p.text for p in Document(io.BytesIO(download.data)).paragraphs
    )
    client.post(
        url + "papers",
        data={
            "code": "A11",
            "checked_object": "立项文件",
            "data_source": "项目单位提供",
            "problems": "无",
            "scoring_note": "资料齐全，得满分",
        },
    )
    paper = session.scalar(sa.select(WorkingPaper))
    assert paper.status == "draft"
    # only the reviewer marks a working paper reviewed
    assert client.post(url + "papers/review", data={"id": paper.id}).status_code == 403
    login(client, "wang.fang")
    client.post(url + "papers/review", data={"id": paper.id})
    session.expire_all()
    paper = session.get(WorkingPaper, paper.id)
    assert paper.status == "reviewed" and paper.reviewed_by == "王芳"
    # the client never sees working papers
    login(client, "czj.liu")
    assert client.get(url).status_code == 404
    assert client.get(f"/engagements/{eid}/workpapers/evidence/{files[0].id}").status_code == 404
